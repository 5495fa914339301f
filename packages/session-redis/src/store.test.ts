import { createSessionManager, type SessionRecord } from '@core/session';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDir, freshPrefix, rawClient, until } from '../test/helpers.js';
import { type RedisServer, SKIP_REASON, startRedisServer } from '../test/redis-server.js';
import { RedisRegistryStore, type RedisRegistryStoreOptions } from './index.js';

if (SKIP_REASON) console.warn(`@core/session-redis: skipping the Redis tests: ${SKIP_REASON}`);

describe('RedisRegistryStore options', () => {
  it('rejects bad options naming the field and value, before connecting', () => {
    expect(() => new RedisRegistryStore({ url: 'http://x' })).toThrow(/"url".*redis:\/\/host.*"http:\/\/x"/);
    expect(() => new RedisRegistryStore({ url: 'redis://h', leaseTtlMs: 1000, heartbeatMs: 1000 })).toThrow(
      RangeError,
    );
    expect(() => new RedisRegistryStore({ url: 'redis://h', leaseTtlMs: 5 })).toThrow(/"leaseTtlMs".*got 5/);
    expect(() => new RedisRegistryStore({ url: 'redis://h', hostScopedKinds: ['Port'] })).toThrow(
      /hostScopedKinds\.0/,
    );
  });
});

describe.skipIf(SKIP_REASON !== null)('RedisRegistryStore on a real redis-server', () => {
  let server: RedisServer;
  let raw: Redis;
  const stores: RedisRegistryStore[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    raw = rawClient(server.url);
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    raw?.disconnect();
    await server?.dispose();
  });

  function store(prefix: string, options: Partial<RedisRegistryStoreOptions> = {}) {
    const s = new RedisRegistryStore({
      url: server.url,
      keyPrefix: prefix,
      leaseTtlMs: 1500,
      heartbeatMs: 300,
      ...options,
    });
    stores.push(s);
    return s;
  }

  it('registers a session as a record plus a lease key with a TTL; unregistering removes both', async () => {
    const prefix = freshPrefix();
    const s = store(prefix);
    const manager = createSessionManager({ dir: freshDir(), store: s });
    expect(s.leaseId).toBeNull();
    await manager.registerVm('vm-1', 'europe-west4-a', ['api']);
    expect(s.leaseId).toMatch(/^[0-9a-f-]{36}$/);
    const lease = `${prefix}lease:${manager.sessionId}`;
    expect(await raw.get(lease)).toBe(s.leaseId);
    const ttl = await raw.pttl(lease);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1500);
    const stored = await raw.hget(`${prefix}sessions`, manager.sessionId);
    expect(stored?.startsWith(`v1 ${s.leaseId} {`)).toBe(true);
    expect((await s.list()).map((r) => r.vmId)).toEqual(['vm-1']);
    expect(await manager.getMyVm()).toMatchObject({ vmId: 'vm-1' });

    expect(await manager.unregisterSession()).toBe(true);
    expect(await raw.exists(lease, `${prefix}sessions`)).toBe(0);
    expect(s.leaseId).toBeNull();
  });

  it('keeps a live lease alive by heartbeats, and a session whose lease expired becomes stale and reapable', async () => {
    const prefix = freshPrefix();
    const ownerStore = store(prefix);
    const owner = createSessionManager({ dir: freshDir(), store: ownerStore });
    await owner.registerResource({ kind: 'vm', id: 'vm-owned', zone: 'z' });
    const reaper = createSessionManager({ dir: freshDir(), store: store(prefix) });
    const lease = `${prefix}lease:${owner.sessionId}`;

    // Heartbeats refresh the lease: it is still there after more than one TTL.
    const registeredAt = Date.now();
    await until(() => Date.now() - registeredAt > 2_000, 'more than one lease TTL to pass');
    expect(await raw.exists(lease)).toBe(1);
    expect(await reaper.reapStaleSessions()).toEqual({ removed: 0, reapable: [] });
    expect(Object.keys(await reaper.getAllActiveSessions())).toContain(owner.sessionId);

    // The owner stops heartbeating (its process is gone, as far as the fleet can tell).
    await ownerStore.close();
    await until(async () => (await raw.exists(lease)) === 0, 'the lease to expire');
    const { removed, reapable } = await reaper.reapStaleSessions();
    expect(removed).toBe(1);
    expect(reapable[0]).toMatchObject({ sessionId: owner.sessionId, status: 'stale' });
    expect(reapable[0]?.resources.map((r) => r.id)).toEqual(['vm-owned']);
    expect(await reaper.reapStaleSessions()).toEqual({ removed: 0, reapable: [] });
  });

  it('never deletes a record whose lease is live, even when a caller tries', async () => {
    const prefix = freshPrefix();
    const owner = createSessionManager({ dir: freshDir(), store: store(prefix) });
    await owner.registerResource({ kind: 'vm', id: 'precious' });
    const intruder = store(prefix, { unavailableTimeoutMs: 300 });
    await expect(
      intruder.update((draft) => {
        delete draft.sessions[owner.sessionId];
      }),
    ).rejects.toMatchObject({ code: 'E_SESSION_STORE_CONTENDED' });
    expect((await owner.getMyResources()).map((r) => r.id)).toEqual(['precious']);
    expect(await raw.hexists(`${prefix}sessions`, owner.sessionId)).toBe(1);
  });

  it('two reapers interleaved on the same stale session: the second commit re-reads and gets nothing', async () => {
    const prefix = freshPrefix();
    const ownerStore = store(prefix, { leaseTtlMs: 200, heartbeatMs: 50 });
    const owner = createSessionManager({ dir: freshDir(), store: ownerStore });
    await owner.registerResource({ kind: 'vm', id: 'contested' });
    await ownerStore.close();
    await until(
      async () => (await raw.exists(`${prefix}lease:${owner.sessionId}`)) === 0,
      'the lease to expire',
    );

    const first = store(prefix);
    const second = createSessionManager({ dir: freshDir(), store: store(prefix) });
    let attempts = 0;
    const won = await first.update(async (draft) => {
      attempts++;
      const stale = Object.values(draft.sessions).filter((r) => first.judgeSession(r) === 'stale');
      // While this reaper holds its snapshot, the other one reaps and commits first.
      if (attempts === 1) expect((await second.reapStaleSessions()).removed).toBe(1);
      for (const record of stale) delete draft.sessions[record.sessionId];
      return stale.map((r) => r.sessionId);
    });
    expect(attempts).toBe(2);
    expect(won).toEqual([]);
  });

  it('claimResources: ids of live sessions are taken, of stale sessions and (for host-scoped kinds) of other hosts are not', async () => {
    const prefix = freshPrefix();
    const live = createSessionManager({ dir: freshDir(), store: store(prefix) });
    await live.registerResource({ kind: 'slot', id: 'a' });
    await live.registerResource({ kind: 'port', id: '127.0.0.1:8010' });
    // A stale session (record without a lease) and a live session of another host, planted directly.
    const plant = async (
      sessionId: string,
      hostname: string,
      resources: [string, string][],
      withLease: boolean,
    ) => {
      const record: SessionRecord = {
        sessionId,
        pid: 4242,
        hostname,
        processStartTime: null,
        createdAt: Date.now(),
        registeredAt: Date.now(),
        status: 'active',
        vmId: null,
        zone: null,
        components: [],
        metadata: {},
        resources: resources.map(([kind, id]) => ({ kind, id, registeredAt: Date.now() })),
      };
      await raw.hset(`${prefix}sessions`, sessionId, `v1 lease-${sessionId} ${JSON.stringify(record)}`);
      if (withLease) await raw.set(`${prefix}lease:${sessionId}`, `lease-${sessionId}`, 'PX', 60_000);
    };
    await plant('stale-one', 'this-or-that', [['slot', 'b']], false);
    await plant(
      'remote-one',
      'another-host',
      [
        ['slot', 'c'],
        ['port', '127.0.0.1:8011'],
      ],
      true,
    );

    const claimer = createSessionManager({ dir: freshDir(), store: store(prefix) });
    const seen: Record<string, string[]> = {};
    for (const kind of ['slot', 'port']) {
      await claimer.claimResources(kind, (taken) => {
        seen[kind] = [...taken].sort();
        return [];
      });
    }
    expect(seen['slot']).toEqual(['a', 'c']);
    expect(seen['port']).toEqual(['127.0.0.1:8010']);
    await expect(claimer.claimResources('slot', () => [{ kind: 'slot', id: 'a' }])).rejects.toMatchObject({
      code: 'E_SESSION_CLAIM_CONFLICT',
    });
    expect(
      (await claimer.claimResources('slot', () => [{ kind: 'slot', id: 'b' }])).map((r) => r.id),
    ).toEqual(['b']);
    // listSessions shows every host and the lease state, and changes nothing.
    const listed = await claimer.store.list();
    const fleet = await (claimer.store as RedisRegistryStore).listSessions();
    expect(fleet.map((f) => [f.record.sessionId, f.live]).sort()).toEqual(
      [
        [claimer.sessionId, true],
        [live.sessionId, true],
        ['remote-one', true],
        ['stale-one', false],
      ].sort(),
    );
    expect(await claimer.store.list()).toEqual(listed);
    // The live remote session is shown, the stale one is reaped.
    const active = await claimer.getAllActiveSessions();
    expect(Object.keys(active).sort()).toEqual([claimer.sessionId, live.sessionId, 'remote-one'].sort());
  });

  it('re-registers under a new lease when its lease expired but no one reaped it (outcome "kept")', async () => {
    const prefix = freshPrefix();
    const s = store(prefix);
    const renewed: unknown[] = [];
    s.on('leaseRenewed', (renewal) => renewed.push(renewal));
    const manager = createSessionManager({ dir: freshDir(), store: s });
    await manager.registerResource({ kind: 'vm', id: 'kept-vm' });
    const before = s.leaseId;
    await raw.del(`${prefix}lease:${manager.sessionId}`); // as if it had expired
    await until(() => renewed.length > 0, 'the heartbeat to notice and renew the lease');
    expect(s.leaseRenewals).toEqual([
      { at: expect.any(Number), previousLeaseId: before, leaseId: s.leaseId, outcome: 'kept' },
    ]);
    expect(s.leaseId).not.toBe(before);
    expect(await raw.get(`${prefix}lease:${manager.sessionId}`)).toBe(s.leaseId);
    expect((await manager.getMyResources()).map((r) => r.id)).toEqual(['kept-vm']);
  });

  it('refuses the sync paths with a clear error: in an exit handler the lease simply expires', async () => {
    const s = store(freshPrefix());
    const warnings: string[] = [];
    const manager = createSessionManager({
      dir: freshDir(),
      store: s,
      logger: { warn: (_o, m) => warnings.push(m ?? '') },
    });
    await manager.registerResource({ kind: 'vm', id: 'v' });
    expect(() => s.loadSync()).toThrow(expect.objectContaining({ code: 'E_SESSION_STORE_SYNC' }));
    expect(manager.unregisterSessionSync()).toBe(false);
    expect(warnings.join('\n')).toMatch(/cannot be reached synchronously.*lease expires within 1500 ms/);
    expect(await manager.unregisterSession()).toBe(true);
  });
});
