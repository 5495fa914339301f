// A real $NOTIFY_SOCKET for tests: a Unix datagram socket opened by python3
// (Node has none), printing each datagram it receives as one JSON line.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const LISTENER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps("LISTENING"), flush=True)
while True:
    data = s.recv(65536)
    print(json.dumps(data.decode("utf-8", "replace")), flush=True)
`;

/** A listening notify socket and every message it has received (BARRIER=1 handshakes left out). */
export interface NotifySocket {
  readonly path: string;
  /** Messages in arrival order; each is the datagram's text (newline-separated assignments). */
  readonly messages: string[];
  /** Resolves with the first message (index ≥ `from`) that contains the assignment. */
  waitFor(assignment: string, timeoutMs?: number, from?: number): Promise<number>;
  close(): Promise<void>;
}

/** Opens a datagram socket at `<dir>/notify.sock`. */
export async function openNotifySocket(dir: string): Promise<NotifySocket> {
  const socketPath = path.join(dir, 'notify.sock');
  const child: ChildProcess = spawn('python3', ['-c', LISTENER, socketPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const messages: string[] = [];
  const listeners = new Set<() => void>();
  let partial = '';
  let errors = '';
  child.stderr?.on('data', (c: Buffer) => {
    errors += c.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`notify listener exited ${code}: ${errors}`)));
    child.stdout?.on('data', (c: Buffer) => {
      const lines = (partial + c.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const text = JSON.parse(line) as string;
        if (text === 'LISTENING') resolve();
        else if (text !== 'BARRIER=1') messages.push(text);
      }
      for (const l of [...listeners]) l();
    });
  });
  const has = (i: number, assignment: string) => (messages[i] ?? '').split('\n').includes(assignment);
  return {
    path: socketPath,
    messages,
    waitFor(assignment, timeoutMs = 10_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (let i = from; i < messages.length; i++) {
            if (has(i, assignment)) {
              listeners.delete(check);
              clearTimeout(timer);
              resolve(i);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no ${assignment} within ${timeoutMs} ms; got ${JSON.stringify(messages)}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
