// Several processes against one real redis-server: concurrent registration,
// claims with an async chooser, the reaper race, the sync exit path, and a
// server restart in the middle of a run.
import { createSessionManager } from '@core/session';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRegistryStore } from '../src/index.js';
import { freshDir, freshPrefix, type Member, rawClient, startMember, until } from './helpers.js';
import { type RedisServer, SKIP_REASON, startRedisServer } from './redis-server.js';

if (SKIP_REASON) console.warn(`@core/session-redis: skipping the multi-process Redis tests: ${SKIP_REASON}`);

describe.skipIf(SKIP_REASON !== null)('a fleet of processes on one redis-server', { timeout: 60_000 }, () => {
  let server: RedisServer;
  let raw: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    raw = rawClient(server.url);
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.dispose();
  });

  const members = (count: number, prefix: string, leaseTtlMs = 5_000, heartbeatMs = 1_000) =>
    Promise.all(
      Array.from({ length: count }, () =>
        startMember({ url: server.url, prefix, dir: freshDir(), leaseTtlMs, heartbeatMs }),
      ),
    );
  const all = (group: Member[], line: string) => {
    for (const m of group) m.send(line);
    return Promise.all(group.map((m) => m.next()));
  };
  const closeAll = async (group: Member[]) => {
    await all(group, 'close');
    await Promise.all(group.map((m) => m.exited));
  };

  it('8 processes registering and claiming at once lose nothing and never share a claimed id', async () => {
    const prefix = freshPrefix();
    const group = await members(8, prefix);
    // Every process gets its command at the same moment.
    const registered = await all(group, 'register 25 r');
    expect(registered.every((r) => r['registered'] === 25)).toBe(true);
    const sessions = await raw.hgetall(`${prefix}sessions`);
    expect(Object.keys(sessions).sort()).toEqual(group.map((m) => m.sessionId).sort());
    for (const value of Object.values(sessions)) expect(value.match(/"kind":"vm"/g)).toHaveLength(25);

    // Claims with an async chooser, all at once, from 8 candidates: each gets a different one.
    const claims = await all(group, 'claim s1,s2,s3,s4,s5,s6,s7,s8');
    const ids = claims.map((c) => c['claimed']);
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(8);

    const gone = await all(group, 'unregister');
    expect(gone.every((r) => r['unregistered'] === true)).toBe(true);
    expect(await raw.hlen(`${prefix}sessions`)).toBe(0);
    await closeAll(group);
  });

  it('4 reapers racing over stale sessions: every resource is reaped by exactly one of them', async () => {
    const prefix = freshPrefix();
    const reapers = await members(4, prefix);
    for (let round = 0; round < 3; round++) {
      // Six sessions whose owners stop heartbeating (store closed, no unregister): their leases expire.
      const expected: string[] = [];
      for (let i = 0; i < 6; i++) {
        const store = new RedisRegistryStore({
          url: server.url,
          keyPrefix: prefix,
          leaseTtlMs: 300,
          heartbeatMs: 100,
        });
        const owner = createSessionManager({ dir: freshDir(), store });
        for (let r = 0; r < 3; r++) {
          await owner.registerResource({ kind: 'vm', id: `round${round}-owner${i}-vm${r}` });
          expected.push(`${owner.sessionId}/vm/round${round}-owner${i}-vm${r}`);
        }
        await store.close();
      }
      await until(async () => {
        const leases = await raw.keys(`${prefix}lease:*`);
        return leases.length === 0; // the reapers own nothing, so they hold no lease either
      }, 'the stale owners\u2019 leases to expire');
      const results = await all(reapers, 'reap');
      const reaped = results.flatMap((r) => r['reaped'] as string[]);
      expect(reaped.sort()).toEqual(expected.sort()); // each exactly once: no duplicates, none missing
      expect(await raw.hlen(`${prefix}sessions`)).toBe(0);
    }
    await closeAll(reapers);
  });

  it('the sync exit path cannot reach Redis: the lease expires and the resources become reapable after the TTL', async () => {
    const prefix = freshPrefix();
    const [dying] = await members(1, prefix, 1_500, 300);
    dying!.send('register 2 exiting');
    expect(await dying!.next()).toEqual({ registered: 2 });
    dying!.send('exit-sync');
    const last = await dying!.next();
    expect(last['exitHandler']).toBe(false);
    expect((last['warnings'] as string[]).join('\n')).toMatch(/lease expires within 1500 ms/);
    expect(await dying!.exited).toBe(0);

    const reaper = createSessionManager({
      dir: freshDir(),
      store: new RedisRegistryStore({
        url: server.url,
        keyPrefix: prefix,
        leaseTtlMs: 1_500,
        heartbeatMs: 300,
      }),
    });
    // Until the TTL passes, the dead process still looks live to everyone: nothing is reaped.
    if ((await raw.exists(`${prefix}lease:${dying!.sessionId}`)) === 1)
      expect((await reaper.reapStaleSessions()).removed).toBe(0);
    await until(
      async () => (await raw.exists(`${prefix}lease:${dying!.sessionId}`)) === 0,
      'the lease to expire',
    );
    const { reapable } = await reaper.reapStaleSessions();
    expect(reapable.map((s) => s.sessionId)).toEqual([dying!.sessionId]);
    expect(reapable[0]?.resources.map((r) => r.id).sort()).toEqual(['exiting-0', 'exiting-1']);
    await (reaper.store as RedisRegistryStore).close();
  });
});

describe.skipIf(SKIP_REASON !== null)(
  'redis-server restarts in the middle of a run',
  { timeout: 60_000 },
  () => {
    let server: RedisServer;
    beforeAll(async () => {
      server = await startRedisServer();
    });
    afterAll(async () => {
      await server?.dispose();
    });

    it('the manager keeps running, logs the outage once, and re-registers under a new lease when the server is back', async () => {
      const prefix = freshPrefix();
      const warnings: string[] = [];
      const infos: string[] = [];
      const logger = {
        warn: (_o: object, m?: string) => warnings.push(m ?? ''),
        info: (_o: object, m?: string) => infos.push(m ?? ''),
      };
      const store = new RedisRegistryStore({
        url: server.url,
        keyPrefix: prefix,
        leaseTtlMs: 1_000,
        heartbeatMs: 200,
        unavailableTimeoutMs: 400,
        reconnectMaxDelayMs: 200,
        logger,
      });
      const outages: unknown[] = [];
      store.on('outage', (o) => outages.push(o));
      const manager = createSessionManager({ dir: freshDir(), store });
      await manager.registerResource({ kind: 'vm', id: 'survivor' });
      await manager.claimResources('port', () => [{ kind: 'port', id: '127.0.0.1:8010' }]);
      const firstLease = store.leaseId;

      await server.stop(true); // kill -9: the server's data is gone with it (no persistence)
      await until(() => !store.connected && outages.length === 1, 'the store to notice the outage');
      // Calls fail with a coded error after the bounded wait; the manager itself keeps working.
      await expect(manager.registerResource({ kind: 'vm', id: 'during-outage' })).rejects.toMatchObject({
        code: 'E_SESSION_STORE_UNAVAILABLE',
      });
      expect(await manager.registerVm('vm-x', 'z', [])).toBe(false);
      expect(manager.getStatistics().resourceCount).toBe(2);
      // Several reconnect attempts fail meanwhile; the outage is still logged once.
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(outages).toHaveLength(1);
      expect(warnings.filter((w) => w.includes('unreachable'))).toHaveLength(1);

      await server.restart(); // same port, empty
      await until(() => store.leaseRenewals.length === 1, 'the manager to re-register');
      expect(store.connected).toBe(true);
      expect(store.leaseRenewals[0]).toMatchObject({ previousLeaseId: firstLease, outcome: 'restored' });
      expect(store.leaseId).not.toBe(firstLease);
      expect(infos.some((m) => /reachable again/.test(m))).toBe(true);
      expect(warnings.some((m) => /re-registered under the new lease/.test(m))).toBe(true);

      // Everything it owned is back, fleet-wide, under the new lease.
      const other = createSessionManager({
        dir: freshDir(),
        store: new RedisRegistryStore({
          url: server.url,
          keyPrefix: prefix,
          leaseTtlMs: 1_000,
          heartbeatMs: 200,
        }),
      });
      const active = await other.getAllActiveSessions();
      expect(active[manager.sessionId]?.resources.map((r) => r.id).sort()).toEqual([
        '127.0.0.1:8010',
        'survivor',
      ]);
      expect((await other.reapStaleSessions()).removed).toBe(0);
      // And it goes on working normally.
      await manager.registerResource({ kind: 'vm', id: 'after' });
      expect(await manager.unregisterSession()).toBe(true);
      await (other.store as RedisRegistryStore).close();
      await store.close();
    });
  },
);
