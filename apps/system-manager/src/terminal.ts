import { readlinkSync } from 'node:fs';

/** The controlling terminal of this process (e.g. `/dev/pts/3`), or null when there is none. */
export function currentTerminal(): string | null {
  for (const fd of [0, 1, 2]) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith('/dev/pts/') || /^\/dev\/tty\w+$/.test(target)) return target;
    } catch {
      // Not Linux, or fd closed: try the next one.
    }
  }
  return null;
}
