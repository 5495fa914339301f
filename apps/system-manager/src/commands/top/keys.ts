// The keys `top` understands, from the bytes a terminal in raw mode sends.
// One read may hold several keys (a paste, a held key): each is returned.

/** What a key asks for. */
export type TopKey = 'up' | 'down' | 'home' | 'end' | 'restart' | 'stop' | 'start' | 'quit' | 'suspend';

const SEQUENCES: readonly (readonly [string, TopKey])[] = [
  // Arrows in normal and in application cursor mode; Home/End as xterm and as the VT220 keypad send them.
  ['\x1b[A', 'up'],
  ['\x1bOA', 'up'],
  ['\x1b[B', 'down'],
  ['\x1bOB', 'down'],
  ['\x1b[H', 'home'],
  ['\x1bOH', 'home'],
  ['\x1b[1~', 'home'],
  ['\x1b[F', 'end'],
  ['\x1bOF', 'end'],
  ['\x1b[4~', 'end'],
];

const SINGLE: Readonly<Record<string, TopKey>> = {
  k: 'up',
  j: 'down',
  g: 'home',
  G: 'end',
  r: 'restart',
  s: 'stop',
  t: 'start',
  q: 'quit',
  Q: 'quit',
  '\x03': 'quit', // Ctrl-C: raw mode delivers it as a byte, not as SIGINT
  '\x04': 'quit', // Ctrl-D
  '\x1a': 'suspend', // Ctrl-Z: likewise a byte in raw mode; stops top as the shell's job control expects
};

/** The keys in `data`; bytes that are no key of ours (and unknown escape sequences) are skipped. */
export function parseKeys(data: string): TopKey[] {
  const keys: TopKey[] = [];
  let i = 0;
  while (i < data.length) {
    if (data[i] === '\x1b') {
      const known = SEQUENCES.find(([sequence]) => data.startsWith(sequence, i));
      if (known) {
        keys.push(known[1]);
        i += known[0].length;
        continue;
      }
      // An unknown sequence: skip ESC, the introducer and its parameters up to the final byte.
      const rest = /^(?:\[[0-?]*[ -/]*[@-~]|O.|.)?/s.exec(data.slice(i + 1));
      i += 1 + (rest?.[0].length ?? 0);
      continue;
    }
    const key = SINGLE[data[i] as string];
    if (key) keys.push(key);
    i += 1;
  }
  return keys;
}
