import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionRecord } from '@core/session';

/** A fresh session directory (the manager's tracker file lives there). */
export function freshDir(): string {
  return join(mkdtempSync(join(tmpdir(), 'session-redis-bench-')), 'sessions');
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
