// What a bench leaves behind is removed when its process ends — normally, on
// a thrown error, or on Ctrl-C/SIGTERM — so it leaves nothing in the OS temp
// directory and no server running.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const created: string[] = [];
const onStop: (() => Promise<unknown>)[] = [];
let armed = false;

function arm(): void {
  if (armed) return;
  armed = true;
  process.on('exit', () => {
    for (const dir of created) rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      // What outlives this process unless stopped (servers) is stopped first, for at most 10 s.
      const stopped = Promise.allSettled(onStop.map((stop) => stop()));
      const limit = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
      void Promise.race([stopped, limit]).then(() => process.exit(130));
    });
}

/** Runs `stop` (e.g. disposing a cluster) before the process exits on Ctrl-C or SIGTERM. */
export function onInterrupt(stop: () => Promise<unknown>): void {
  arm();
  onStop.push(stop);
}

/** A fresh session directory (`<new temp dir>/sessions`), removed when the process exits. */
export function freshDir(prefix = 'session-bench-'): string {
  arm();
  const parent = mkdtempSync(join(tmpdir(), prefix));
  created.push(parent);
  return join(parent, 'sessions');
}
