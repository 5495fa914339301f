// How long each session's lease key has left (PTTL): read-only and for
// display (`status --fleet`). Liveness is judged from the listing's lease
// evidence, never from these numbers.
import type { Connection } from './connection.js';
import type { KeyLayout } from './keys.js';

/**
 * For each of `sessionIds` whose lease key exists with an expiry, the
 * milliseconds it has left. A session without a lease key (or a reply that is
 * not a non-negative number) is absent from the map.
 */
export async function readLeaseTtls(
  context: { readonly connection: Connection; readonly keys: KeyLayout },
  sessionIds: readonly string[],
): Promise<Map<string, number>> {
  const { connection, keys } = context;
  const left = new Map<string, number>();
  if (sessionIds.length === 0) return left;
  const results = await connection.call(async () => {
    const pipeline = connection.redis.pipeline();
    for (const id of sessionIds) pipeline.pttl(keys.lease(id));
    return (await pipeline.exec()) ?? [];
  });
  sessionIds.forEach((id, index) => {
    const [error, value] = results[index] ?? [null, null];
    // -2: no such key, -1: no expiry (not a lease this store wrote).
    if (error === null && typeof value === 'number' && value >= 0) left.set(id, value);
  });
  return left;
}
