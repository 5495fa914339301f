// The store behind Sentinel, with real processes: a master, a replica and
// three Sentinels on loopback. A record or claim counts as written only once
// the replica has it (WAIT): with the replica paused the write is an error to
// the caller, never a silent loss; when the master is killed, Sentinel
// promotes the replica, the store follows it, and everything acknowledged
// before is still there.
import { createSessionManager, listSessions } from '@core/session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDir } from '../test/helpers.js';
import { SKIP_REASON } from '../test/redis-server.js';
import { type SentinelGroup, startSentinelGroup } from '../test/sentinel-group.js';
import { RedisSessionStore } from './index.js';

describe('the endpoint URL', () => {
  it('accepts the Sentinel form and never shows a password', () => {
    const store = new RedisSessionStore({
      url: 'redis+sentinel://app:s3cret@10.0.0.1:26379,10.0.0.2/main-group/2',
      legacyKeyPrefix: null,
    });
    expect(store.location).toBe(
      'redis+sentinel://app:***@10.0.0.1:26379,10.0.0.2:26379/main-group/2 (keys {core-session}:*)',
    );
    void store.close();
    expect(() => new RedisSessionStore({ url: 'redis+sentinel://h1,h2/bad name' })).toThrow(/"url"/);
    expect(
      () => new RedisSessionStore({ url: 'redis://h', sentinels: [{ host: 'h', port: 26379 }] }),
    ).toThrow(/"sentinels" and "masterName" go together/);
  });
});

describe.skipIf(SKIP_REASON !== null)(
  'behind Sentinel (master, replica, 3 sentinels)',
  { timeout: 90_000 },
  () => {
    let group: SentinelGroup;
    const stores: RedisSessionStore[] = [];
    beforeAll(async () => {
      group = await startSentinelGroup();
    }, 60_000);
    afterAll(async () => {
      await Promise.all(stores.map((s) => s.close()));
      await group?.dispose();
    });

    function store() {
      const s = new RedisSessionStore({
        url: group.url,
        leaseTtlMs: 3_000,
        heartbeatMs: 1_000,
        replicaAckTimeoutMs: 500,
        unavailableTimeoutMs: 20_000,
        legacyKeyPrefix: null,
      });
      stores.push(s);
      return s;
    }

    it('acknowledges a write only once the replica has it; a failover keeps every acknowledged VM and writes work again', async () => {
      const s = store();
      const manager = createSessionManager({ dir: freshDir(), store: s });
      await manager.registerVm('vm-before', 'zone-a', []);
      expect(s.replicasWaitedFor).toBe(1);

      // The replica stops acknowledging: the write is refused to the caller within the timeout.
      const replica = group.process(group.replicaPort);
      replica.kill('SIGSTOP');
      try {
        const started = Date.now();
        await expect(manager.registerResource({ kind: 'vm', id: 'vm-unacknowledged' })).rejects.toMatchObject(
          {
            code: 'E_SESSION_STORE_NOT_REPLICATED',
          },
        );
        expect(Date.now() - started).toBeLessThan(5_000);
      } finally {
        replica.kill('SIGCONT');
      }
      await manager.registerResource({ kind: 'vm', id: 'vm-acknowledged' });

      // The master dies: Sentinel promotes the replica and the store follows.
      group.process(group.masterPort).kill('SIGKILL');
      const killedAt = Date.now();
      let writesAgainAfterMs = -1;
      for (let i = 0; writesAgainAfterMs < 0; i++) {
        try {
          await manager.registerResource({ kind: 'vm', id: `vm-after-${i}` });
          writesAgainAfterMs = Date.now() - killedAt;
        } catch (error) {
          if (Date.now() - killedAt > 30_000) throw error;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      expect(await group.masterNow()).toBe(group.replicaPort);
      // Sentinel needs down-after (1 s) plus an election; the store then finds the new master.
      expect(writesAgainAfterMs).toBeLessThan(15_000);

      // Everything acknowledged before the failover is on the new master.
      const reader = store();
      const listed = await listSessions({ store: reader });
      const vms = listed
        .find((l) => l.record.sessionId === manager.sessionId)
        ?.record.resources.map((r) => r.id);
      expect(vms).toEqual(expect.arrayContaining(['vm-before', 'vm-acknowledged']));
      await manager.unregisterSession();
    });
  },
);

describe.skipIf(SKIP_REASON !== null)(
  'a Sentinel that accepts connections but never answers',
  { timeout: 60_000 },
  () => {
    it('is passed over: a new store reaches the master through the next Sentinel', async () => {
      const group = await startSentinelGroup();
      // The first Sentinel of the URL, paused: the kernel still accepts connections to it, nothing answers.
      const first = Number(/\/\/(?:[^@/]*@)?127\.0\.0\.1:(\d+)/.exec(group.url)?.[1]);
      group.process(first).kill('SIGSTOP');
      const s = new RedisSessionStore({
        url: group.url,
        commandTimeoutMs: 1_000,
        unavailableTimeoutMs: 15_000,
        legacyKeyPrefix: null,
      });
      try {
        const started = Date.now();
        expect(await s.listSessions()).toEqual([]);
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        await s.close();
        group.process(first).kill('SIGCONT');
        await group.dispose();
      }
    });
  },
);
