// How long each session's lease has left, as the server counts it: the lease
// a session's marker is attached to, asked with LeaseTimeToLive. Read-only
// and for display (`status --fleet`): liveness is judged from the listing's
// lease evidence, never from these numbers.
import type { Connection } from './connection.js';
import type { KeyLayout } from './keys.js';
import { op, read } from './kv.js';

/** At most this many TimeToLive requests in flight at once. */
const PARALLEL = 16;

/**
 * For each of `sessionIds` whose lease marker is present, the milliseconds its
 * lease has left (etcd counts whole seconds). A session without a marker, or
 * whose lease the server no longer has, is absent from the map.
 */
export async function readLeaseTtls(
  context: { readonly connection: Connection; readonly keys: KeyLayout },
  sessionIds: readonly string[],
): Promise<Map<string, number>> {
  const { connection, keys } = context;
  const left = new Map<string, number>();
  if (sessionIds.length === 0) return left;
  const reply = await read(connection, [op.scan(keys.leases)]);
  const wanted = new Set(sessionIds);
  const leaseOf = new Map<string, string>();
  for (const entry of reply.ranges[0] ?? []) {
    const sessionId = entry.key.slice(keys.leases.length);
    if (wanted.has(sessionId) && /^[1-9][0-9]*$/.test(entry.lease)) leaseOf.set(sessionId, entry.lease);
  }
  const ttls = new Map<string, number>();
  const pending = [...new Set(leaseOf.values())];
  while (pending.length > 0) {
    const batch = pending.splice(0, PARALLEL);
    await Promise.all(
      batch.map(async (id) => {
        const answer = await connection.call(() => connection.client.leaseClient.leaseTimeToLive({ ID: id }));
        const ttl = Number(answer.TTL);
        if (Number.isFinite(ttl) && ttl >= 0) ttls.set(id, ttl * 1_000);
      }),
    );
  }
  for (const [sessionId, lease] of leaseOf) {
    const ttl = ttls.get(lease);
    if (ttl !== undefined) left.set(sessionId, ttl);
  }
  return left;
}
