import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionRecord } from '@core/session';

const created: string[] = [];
let cleanupArmed = false;

/**
 * A fresh session directory (the manager's tracker file lives there). Every
 * dir made here is removed when the process exits — normally, on a thrown
 * error, or on Ctrl-C — so a bench leaves nothing in the OS temp directory.
 */
export function freshDir(): string {
  if (!cleanupArmed) {
    cleanupArmed = true;
    process.on('exit', () => {
      for (const dir of created) rmSync(dir, { recursive: true, force: true });
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  }
  const parent = mkdtempSync(join(tmpdir(), 'session-etcd-bench-'));
  created.push(parent);
  return join(parent, 'sessions');
}

/** A realistic record: one session owning a VM and two processes (the size every floor write uses too). */
export function benchRecord(sessionId: string): SessionRecord {
  const now = Date.now();
  return {
    sessionId,
    pid: 4242,
    hostname: 'bench-host',
    hostId: 'bench-host-identity',
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
