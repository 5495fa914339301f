// `leaseTtlsLeft`: what `status --fleet` shows as a session's lease time left,
// asked of a real 3-member cluster (LeaseTimeToLive of the lease each
// session's marker is attached to).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdCluster, SKIP_REASON, startEtcdCluster } from './etcd-cluster.js';
import { freshPrefix, recordOf, remoteOwner, storeOn, until } from './helpers.js';

describe.skipIf(SKIP_REASON !== null)('EtcdSessionStore.leaseTtlsLeft', { timeout: 30_000 }, () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcdCluster();
  }, 30_000);
  afterAll(() => cluster?.dispose());

  it("gives the server's TTL of each session's lease; a stopped owner's lease runs down and is gone", async () => {
    const prefix = freshPrefix();
    const holder = storeOn(cluster.endpoints, prefix, { leaseTtlMs: 3_000, heartbeatMs: 500 });
    const owner = remoteOwner('ttl');
    holder.attach(owner);
    await holder.writeRecord(recordOf(owner, ['vm-ttl']));
    const reader = storeOn(cluster.endpoints, prefix);
    const left = await reader.leaseTtlsLeft([owner.sessionId, 'never-registered']);
    expect([...left.keys()]).toEqual([owner.sessionId]);
    const ms = left.get(owner.sessionId) as number;
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThanOrEqual(3_000);
    expect(ms % 1_000).toBe(0); // etcd counts whole seconds

    // The owner stops sending keepalives (closed with its record kept): the TTL runs down, then the lease is gone.
    await holder.close();
    await until(
      async () => ((await reader.leaseTtlsLeft([owner.sessionId])).get(owner.sessionId) ?? 0) < ms,
      'the TTL to run down',
      5_000,
    );
    await until(
      async () => !(await reader.leaseTtlsLeft([owner.sessionId])).has(owner.sessionId),
      'the lease to be gone',
      8_000,
    );
    expect((await reader.listSessions()).map((s) => s.record.sessionId)).toEqual([owner.sessionId]);
    expect(await reader.leaseTtlsLeft([])).toEqual(new Map());
  });
});
