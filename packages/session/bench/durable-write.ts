import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';

/**
 * The floor of a registry write: temp file + write + fsync + rename + fsync of
 * `dir` (a bare durable atomic write, no validation, no retry on short writes).
 */
export function durableWrite(dir: string, path: string, text: string): void {
  const temp = `${path}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  writeSync(fd, text);
  fsyncSync(fd);
  closeSync(fd);
  renameSync(temp, path);
  const dirFd = openSync(dir, 'r');
  fsyncSync(dirFd);
  closeSync(dirFd);
}
