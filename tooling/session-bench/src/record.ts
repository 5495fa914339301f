/** A session record as the benches write it (the shape of @core/session's `SessionRecord`). */
export interface BenchRecord {
  readonly sessionId: string;
  readonly pid: number;
  readonly hostname: string;
  readonly hostId?: string;
  readonly processStartTime: string;
  readonly createdAt: number;
  readonly registeredAt: number;
  readonly status: 'active';
  readonly vmId: string;
  readonly zone: string;
  readonly components: string[];
  readonly metadata: Record<string, unknown>;
  readonly resources: {
    readonly kind: string;
    readonly id: string;
    readonly zone?: string;
    readonly pid?: number;
    readonly processStartTime?: string;
    readonly registeredAt: number;
  }[];
}

/**
 * A realistic record: one session owning a VM and two processes (the size
 * every floor write uses too). `hostId` is set for the fleet stores, which
 * key host-scoped claims by it.
 */
export function benchRecord(sessionId: string, hostId?: string): BenchRecord {
  const now = Date.now();
  return {
    sessionId,
    pid: 4242,
    hostname: 'bench-host',
    ...(hostId === undefined ? {} : { hostId }),
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
