import type { SessionRecord } from '../src/index.js';

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
