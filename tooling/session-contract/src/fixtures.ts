// Owners and records for the fleet stores' own tests (Redis, etcd): a
// session of another host, judged by its lease alone, and a record of it.
import { randomUUID } from 'node:crypto';
import type { Owner } from './types.js';

/** A session of another host (pid 4,000,000 there): judged by its lease alone. */
export function remoteOwner(tag: string): Owner {
  return {
    sessionId: `remote-${tag}-${randomUUID().slice(0, 8)}`,
    pid: 4_000_000,
    hostname: 'another-host',
    hostId: 'another-host-identity',
    processStartTime: '1',
    createdAt: Date.now(),
  };
}

/** A record as the fleet stores take it (`SessionRecord`'s shape, mutable where it is). */
export interface FixtureRecord extends Omit<Owner, 'hostId'> {
  readonly hostId: string | undefined;
  readonly registeredAt: number;
  readonly status: 'active';
  readonly vmId: null;
  readonly zone: null;
  readonly components: string[];
  readonly metadata: Record<string, unknown>;
  readonly resources: { kind: string; id: string; registeredAt: number; claimed?: boolean }[];
}

/** A record of `owner` with VMs `ids` (claimed when `claimed`), registered at `registeredAt` (default now). */
export function recordOf(
  owner: Owner,
  ids: readonly string[],
  options: { readonly claimed?: boolean; readonly registeredAt?: number } = {},
): FixtureRecord {
  return {
    ...owner,
    hostId: owner.hostId ?? undefined,
    registeredAt: Date.now(),
    status: 'active',
    vmId: null,
    zone: null,
    components: [],
    metadata: {},
    resources: ids.map((id) => ({
      kind: 'vm',
      id,
      registeredAt: options.registeredAt ?? Date.now(),
      ...(options.claimed ? { claimed: true } : {}),
    })),
  };
}
