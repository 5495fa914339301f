// Faults of the cluster itself, injected for real: kill -9 of the leader,
// kill -9 of a follower, a member paused (SIGSTOP) longer than an election,
// and the loss of quorum. Through each, an owner keeps writing and keeps its
// lease (a reader never sees it expire), nothing throws from a timer, and
// what cannot be done is reported as an error of the call and as events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdSessionStore } from '../src/index.js';
import { type EtcdCluster, type EtcdMember, SKIP_REASON, startEtcdCluster } from './etcd-cluster.js';
import { freshPrefix, recordOf, remoteOwner, storeOn, until } from './helpers.js';

describe.skipIf(SKIP_REASON !== null)('EtcdSessionStore through cluster faults', { timeout: 45_000 }, () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcdCluster();
  }, 30_000);
  afterAll(() => cluster?.dispose());

  /** An owner of another host with a record, and a reader that watches its lease. */
  async function ownerAndReader() {
    const prefix = freshPrefix();
    const owner = remoteOwner('fault');
    const store = storeOn(cluster.endpoints, prefix);
    store.attach(owner);
    let record = recordOf(owner, ['vm-1']);
    await store.writeRecord(record);
    const reader = storeOn(cluster.endpoints, prefix);
    const evidence: string[] = [];
    const watch = async () => {
      const listed = await reader.listSessions().catch(() => null);
      const lease = listed?.find((s) => s.record.sessionId === owner.sessionId)?.lease;
      if (lease) evidence.push(lease);
    };
    const write = async () => {
      record = { ...record, registeredAt: Date.now() };
      const started = Date.now();
      await store.writeRecord(record);
      return Date.now() - started;
    };
    return { store, reader, evidence, watch, write };
  }

  /** Writes and watches for `ms` through a fault; returns the slowest write. */
  async function through(
    ms: number,
    write: () => Promise<number>,
    watch: () => Promise<void>,
  ): Promise<number> {
    let slowest = 0;
    const end = Date.now() + ms;
    while (Date.now() < end) {
      slowest = Math.max(slowest, await write());
      await watch();
    }
    return slowest;
  }

  async function followerOf(leader: EtcdMember): Promise<EtcdMember> {
    return cluster.members.find((m) => m !== leader && m.pid !== null) as EtcdMember;
  }

  it('kill -9 of the leader: writes go on after the election, the lease is never lost', async () => {
    const { store, evidence, watch, write } = await ownerAndReader();
    const leader = await cluster.leader();
    await cluster.kill(leader);
    const slowest = await through(3_000, write, watch);
    expect(slowest).toBeLessThan(5_000);
    expect(evidence.length).toBeGreaterThan(3);
    expect(evidence.every((e) => e === 'held')).toBe(true);
    expect(store.leaseState).toBe('held');
    expect((await cluster.leader()).name).not.toBe(leader.name);
    await cluster.restart(leader);
    await cluster.waitHealthy();
  });

  it('kill -9 of a follower: nothing changes for the session', async () => {
    const { store, evidence, watch, write } = await ownerAndReader();
    const follower = await followerOf(await cluster.leader());
    await cluster.kill(follower);
    const slowest = await through(2_000, write, watch);
    expect(slowest).toBeLessThan(5_000);
    expect(evidence.every((e) => e === 'held')).toBe(true);
    expect(store.leaseState).toBe('held');
    await cluster.restart(follower);
    await cluster.waitHealthy();
  });

  it('the leader paused (SIGSTOP) for three election timeouts: the others elect a leader, the session keeps its lease', async () => {
    const { store, evidence, watch, write } = await ownerAndReader();
    const leader = await cluster.leader();
    cluster.pause(leader);
    try {
      const slowest = await through(2_500, write, watch);
      expect(slowest).toBeLessThan(5_000);
    } finally {
      cluster.resume(leader);
    }
    expect(evidence.every((e) => e === 'held')).toBe(true);
    expect(store.leaseState).toBe('held');
    await cluster.waitHealthy();
  });

  it('quorum lost: a write fails with E_SESSION_STORE_UNAVAILABLE, the lease goes unconfirmed (event), and all comes back', async () => {
    const { store, write } = await ownerAndReader();
    const events: string[] = [];
    store.on('outage', () => events.push('outage'));
    store.on('reconnected', () => events.push('reconnected'));
    store.on('leaseLost', (loss) => events.push(`lost:${loss.reason}`));
    store.on('leaseRenewed', (renewal) => events.push(`renewed:${renewal.outcome}`));
    const leader = await cluster.leader();
    const follower = await followerOf(leader);
    await cluster.kill(leader);
    await cluster.kill(follower);
    try {
      const started = Date.now();
      await expect((store as EtcdSessionStore).writeRecord(recordOf(remoteOwner('x'), []))).rejects.toThrow(
        TypeError,
      ); // not its session
      await expect(write()).rejects.toMatchObject({ code: 'E_SESSION_STORE_UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(12_000);
      await until(
        () => store.leaseState === 'unconfirmed' && events.includes('lost:unconfirmed'),
        'the lease to go unconfirmed',
        6_000,
      );
      expect(events).toContain('outage');
    } finally {
      await cluster.restart(leader);
      await cluster.restart(follower);
    }
    await cluster.waitHealthy();
    // etcd extends every lease when a new leader takes over: the server confirms ours again.
    await until(() => store.leaseState === 'held', 'the lease to be confirmed again', 10_000);
    expect(await write()).toBeLessThan(5_000);
    expect(events).toContain('reconnected');
    expect(events.filter((e) => e.startsWith('renewed:'))).toEqual(['renewed:confirmed']);
    expect(store.takenOver).toBe(false);
  });
});
