import { closeSync, fsyncSync, mkdtempSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionRecord } from '../src/index.js';

const created: string[] = [];
let cleanupArmed = false;

/**
 * A fresh session directory under its own temp dir. Every dir made here is
 * removed when the process exits — normally, on a thrown error, or on
 * Ctrl-C — so a bench leaves nothing in the OS temp directory.
 */
export function freshDir(prefix = 'session-bench-'): string {
  if (!cleanupArmed) {
    cleanupArmed = true;
    process.on('exit', () => {
      for (const dir of created) rmSync(dir, { recursive: true, force: true });
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  }
  const parent = mkdtempSync(join(tmpdir(), prefix));
  created.push(parent);
  return join(parent, 'sessions');
}

/** A realistic registry entry: one session owning a VM and two processes. */
export function entry(sessionId: string): SessionRecord {
  const now = Date.now();
  return {
    sessionId,
    pid: 4242,
    hostname: 'bench-host',
    processStartTime: '123456',
    createdAt: now,
    registeredAt: now,
    status: 'active',
    vmId: `vm-${sessionId}`,
    zone: 'europe-west4-a',
    components: ['backend', 'frontend'],
    metadata: { machineType: 'e2-standard-4' },
    resources: [
      { kind: 'vm', id: `vm-${sessionId}`, zone: 'europe-west4-a', registeredAt: now },
      { kind: 'process', id: 'api', pid: 4243, processStartTime: '123460', registeredAt: now },
      { kind: 'process', id: 'ui', pid: 4244, processStartTime: '123461', registeredAt: now },
    ],
  };
}

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
