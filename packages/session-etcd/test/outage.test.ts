// What counts as an outage, on a real 3-member cluster: a member killed
// (kill -9, the leader) while a client keeps issuing requests is no outage as
// long as a quorum answers — no `outage` event, `connected` never false —
// whereas every member stopped is one outage (one event, `connected` false)
// and the cluster back is one `reconnected`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdCluster, SKIP_REASON, startEtcdCluster } from './etcd-cluster.js';
import { freshPrefix, recordOf, remoteOwner, storeOn, until } from './helpers.js';

describe.skipIf(SKIP_REASON !== null)('EtcdSessionStore outages', { timeout: 60_000 }, () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcdCluster();
  }, 30_000);
  afterAll(() => cluster?.dispose());

  /** A store with a session (keepalives running), and the events and `connected` samples it shows. */
  async function watchedStore() {
    const store = storeOn(cluster.endpoints, freshPrefix());
    const owner = remoteOwner('outage');
    store.attach(owner);
    let record = recordOf(owner, ['vm-1']);
    await store.writeRecord(record);
    const events: string[] = [];
    store.on('outage', () => events.push('outage'));
    store.on('reconnected', () => events.push('reconnected'));
    let disconnectedSamples = 0;
    let samples = 0;
    // `connected` is sampled between requests too, not only after them.
    const sampler = setInterval(() => {
      samples++;
      if (!store.connected) disconnectedSamples++;
    }, 5);
    const requests = async (ms: number) => {
      let count = 0;
      const end = Date.now() + ms;
      while (Date.now() < end) {
        record = { ...record, registeredAt: Date.now() };
        await store.writeRecord(record);
        if (!store.connected) disconnectedSamples++;
        await store.listSessions();
        if (!store.connected) disconnectedSamples++;
        count++;
      }
      return count;
    };
    return {
      store,
      events,
      requests,
      stats: () => ({ samples, disconnectedSamples }),
      stop: () => clearInterval(sampler),
    };
  }

  it('kill -9 of the leader under continuous requests: no outage, connected throughout', async () => {
    const watched = await watchedStore();
    try {
      await watched.requests(300);
      const leader = await cluster.leader();
      const killing = cluster.kill(leader);
      const count = await watched.requests(3_000);
      await killing;
      expect(count).toBeGreaterThan(3);
      expect(watched.events).toEqual([]);
      expect(watched.stats().samples).toBeGreaterThan(100);
      expect(watched.stats().disconnectedSamples).toBe(0);
      expect(watched.store.connected).toBe(true);
      expect(watched.store.leaseState).toBe('held');
      await cluster.restart(leader);
      await cluster.waitHealthy();
    } finally {
      watched.stop();
    }
  });

  it('every member stopped: exactly one outage, connected false; back: one reconnected', async () => {
    const watched = await watchedStore();
    try {
      const { store, events } = watched;
      for (const member of cluster.members) await cluster.kill(member);
      try {
        const started = Date.now();
        await expect(store.listSessions()).rejects.toMatchObject({ code: 'E_SESSION_STORE_UNAVAILABLE' });
        expect(Date.now() - started).toBeLessThan(12_000);
        expect(store.connected).toBe(false);
        // A second failed request within the same outage is not a second outage.
        await expect(store.listSessions()).rejects.toMatchObject({ code: 'E_SESSION_STORE_UNAVAILABLE' });
        expect(events).toEqual(['outage']);
      } finally {
        for (const member of cluster.members) await cluster.restart(member);
      }
      await cluster.waitHealthy();
      await until(() => events.includes('reconnected'), 'the store to reach the cluster again', 15_000);
      await store.listSessions();
      expect(store.connected).toBe(true);
      expect(events).toEqual(['outage', 'reconnected']);
    } finally {
      watched.stop();
    }
  });
});
