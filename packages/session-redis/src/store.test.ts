import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createSessionManager, listSessions, SessionError, type SessionRecord } from '@core/session';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDir, freshPrefix, rawClient, recordOf, remoteOwner, until } from '../test/helpers.js';
import { type RedisServer, SKIP_REASON, startRedisServer } from '../test/redis-server.js';
import {
  RedisRegistryStore,
  RedisSessionStore,
  type RedisSessionStoreOptions,
  RedisStoreError,
  RedisStoreUnavailableError,
} from './index.js';
import * as scripts from './scripts.js';

if (SKIP_REASON) console.warn(`@core/session-redis: skipping the Redis tests: ${SKIP_REASON}`);

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

describe('RedisSessionStore options', () => {
  it('rejects bad options naming the field and value, before connecting', () => {
    expect(() => new RedisSessionStore({ url: 'http://x' })).toThrow(/"url".*redis:\/\/host.*"http:\/\/x"/);
    expect(() => new RedisSessionStore({ url: 'redis://h', leaseTtlMs: 1000, heartbeatMs: 1000 })).toThrow(
      RangeError,
    );
    expect(() => new RedisSessionStore({ url: 'redis://h', leaseTtlMs: 5 })).toThrow(/"leaseTtlMs".*got 5/);
    // Scripts touch several keys: without a hash tag they would land in different Cluster slots.
    expect(() => new RedisSessionStore({ url: 'redis://h', keyPrefix: 'core-session:' })).toThrow(
      /"keyPrefix".*hash tag.*"core-session:"/,
    );
    expect(RedisRegistryStore).toBe(RedisSessionStore);
  });

  it('under CI=true a missing redis-server fails the suite instead of skipping it', () => {
    const loaded = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', "await import('./test/redis-server.ts')"],
      {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        env: { ...process.env, CI: 'true', REDIS_SERVER_BIN: '/nonexistent/redis-server' },
        encoding: 'utf8',
      },
    );
    expect(loaded.status).not.toBe(0);
    expect(loaded.stderr).toMatch(/no redis-server binary found.*CI=true, so this fails instead of skipping/);
  });

  it('every key a script touches is declared in KEYS (Cluster and proxies route by them)', () => {
    const calls = Object.entries(scripts).flatMap(([name, lua]) =>
      [...String(lua).matchAll(/redis\.call\('([A-Z]+)',\s*([^,)]+)/g)].map((m) => ({
        name,
        command: m[1],
        key: m[2],
      })),
    );
    expect(calls.length).toBeGreaterThan(30);
    for (const call of calls) expect(`${call.name} ${call.command} ${call.key}`).toMatch(/ KEYS\[\d+\]$/);
  });

  it('its errors are SessionErrors with stable codes', () => {
    const error = new RedisStoreUnavailableError('redis://h', 10);
    expect(error).toBeInstanceOf(RedisStoreError);
    expect(error).toBeInstanceOf(SessionError);
    expect(error.code).toBe('E_SESSION_STORE_UNAVAILABLE');
  });
});

describe.skipIf(SKIP_REASON !== null)('RedisSessionStore on a real redis-server', () => {
  let server: RedisServer;
  let raw: Redis;
  const stores: RedisSessionStore[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    raw = rawClient(server.url);
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    raw?.disconnect();
    await server?.dispose();
  });

  function store(prefix: string, options: Partial<RedisSessionStoreOptions> = {}) {
    const s = new RedisSessionStore({
      url: server.url,
      keyPrefix: prefix,
      leaseTtlMs: 600,
      heartbeatMs: 150,
      settleMs: 0,
      ...options,
    });
    stores.push(s);
    return s;
  }

  it('keeps one hash and one lease per session; unregistering removes the record, index entry and claims', async () => {
    const prefix = freshPrefix();
    const s = store(prefix);
    const manager = createSessionManager({ dir: freshDir(), store: s });
    await manager.registerVm('vm-1', 'europe-west4-a', ['api']);
    await manager.claimResources('port', () => [{ kind: 'port', id: '127.0.0.1:8010' }]);
    const hash = await raw.hgetall(`${prefix}s:${manager.sessionId}`);
    expect(hash['ver']).toMatch(/^[0-9a-f-]{36}:[0-9a-f-]{36}:2$/); // epoch : incarnation : n
    expect(JSON.parse(hash['rec'] as string).vmId).toBe('vm-1');
    expect(await raw.get(`${prefix}l:${manager.sessionId}`)).toBe(s.leaseId);
    expect(await raw.pttl(`${prefix}l:${manager.sessionId}`)).toBeGreaterThan(0);
    expect(await raw.smembers(`${prefix}sessions`)).toEqual([manager.sessionId]);
    expect(await raw.keys(`${prefix}c:port:*`)).toHaveLength(1);
    // No fleet-wide version key: every change touched only this session's keys.
    expect((await raw.keys(`${prefix}*`)).sort()).toEqual(
      [
        `${prefix}epoch`,
        `${prefix}sessions`,
        `${prefix}s:${manager.sessionId}`,
        `${prefix}l:${manager.sessionId}`,
        `${prefix}claims:port`,
        `${prefix}c:port:${manager.host.id}:127.0.0.1:8010`,
      ].sort(),
    );
    expect(await manager.unregisterSession()).toBe(true);
    expect(
      await raw.exists(
        `${prefix}s:${manager.sessionId}`,
        `${prefix}c:port:${manager.host.id}:127.0.0.1:8010`,
      ),
    ).toBe(0);
    expect(await raw.scard(`${prefix}sessions`)).toBe(0);
  });

  it('a server that lost its script cache (SCRIPT FLUSH) gets each script again on the next call: no write fails', async () => {
    const prefix = freshPrefix();
    const manager = createSessionManager({ dir: freshDir(), store: store(prefix) });
    await manager.registerVm('vm-1', 'europe-west4-a', ['api']);
    await manager.claimResources('port', () => [{ kind: 'port', id: '127.0.0.1:8011' }]);
    expect(await raw.script('FLUSH')).toBe('OK');
    const [put] = (await raw.script('EXISTS', sha1(scripts.PUT_RECORD_FAST))) as number[];
    expect(put).toBe(0);
    await manager.registerResource({ kind: 'disk', id: 'disk-1' });
    await manager.claimResources('port', () => [{ kind: 'port', id: '127.0.0.1:8012' }]);
    expect((await manager.getMyResources()).map((r) => r.id).sort()).toEqual(
      ['127.0.0.1:8011', '127.0.0.1:8012', 'disk-1', 'vm-1'].sort(),
    );
    const stored = JSON.parse(
      (await raw.hget(`${prefix}s:${manager.sessionId}`, 'rec')) as string,
    ) as SessionRecord;
    expect(stored.resources.map((r) => r.id).sort()).toEqual(
      ['127.0.0.1:8011', '127.0.0.1:8012', 'disk-1', 'vm-1'].sort(),
    );
    // Loaded again by the EVAL fallback: the next call runs by its SHA.
    expect(((await raw.script('EXISTS', sha1(scripts.PUT_RECORD_FAST))) as number[])[0]).toBe(1);
    expect(await manager.unregisterSession()).toBe(true);
  });

  it('a corrupt or foreign entry is warned about once, skipped and left in place; the store keeps working', async () => {
    const prefix = freshPrefix();
    const warnings: string[] = [];
    const s = store(prefix, { logger: { warn: (_o, m) => warnings.push(m ?? '') } });
    await raw.sadd(`${prefix}sessions`, 'planted', 'bad id with spaces');
    await raw.hset(`${prefix}s:planted`, 'ver', 'x', 'rec', '{"not":"a record"}');
    await raw.sadd(`${prefix}sessions`, 'wrong-type');
    await raw.set(`${prefix}s:wrong-type`, 'a string where a hash belongs'); // WRONGTYPE for HMGET
    await raw.hset(`${prefix}c:vm:fleet:vm-8`, 'a', 'hash where a string belongs'); // WRONGTYPE for GET
    await raw.sadd(`${prefix}claims:vm`, 'fleet:vm-8');
    await raw.set(`${prefix}claims:port`, 'not a set'); // WRONGTYPE for SMEMBERS
    await raw.set(`${prefix}c:vm:fleet:vm-9`, '--project=other');
    await raw.sadd(`${prefix}claims:vm`, 'fleet:vm-9');
    const manager = createSessionManager({ dir: freshDir(), store: s });
    await manager.registerResource({ kind: 'vm', id: 'vm-ok' });
    expect((await s.listSessions()).map((x) => x.record.sessionId)).toEqual([manager.sessionId]);
    expect((await s.listSessions()).length).toBe(1);
    expect(await s.listClaims('vm')).toEqual([]);
    expect(await s.listClaims('port')).toEqual([]);
    expect(warnings.some((w) => w.includes('s:wrong-type') && w.includes('WRONGTYPE'))).toBe(true);
    expect(warnings.some((w) => w.includes('claims:port') && w.includes('WRONGTYPE'))).toBe(true);
    expect(warnings.filter((w) => w.includes('planted'))).toHaveLength(1);
    expect(warnings.some((w) => w.includes('not a session id'))).toBe(true);
    expect(await raw.hget(`${prefix}s:planted`, 'rec')).toBe('{"not":"a record"}'); // kept for inspection
    // A claim value no store wrote cannot be held by anyone: it is taken over (compare-and-set), with a warning.
    const [claimed] = await manager.claimResources('vm', () => [{ kind: 'vm', id: 'vm-9' }]);
    expect(claimed?.id).toBe('vm-9');
    expect(warnings.some((w) => w.includes('c:vm:fleet:vm-9'))).toBe(true);
    await manager.unregisterSession();
  });

  it('two reapers over one listing: exactly one takes the dead session over', async () => {
    const prefix = freshPrefix();
    const dead = store(prefix);
    const owner = remoteOwner('dead');
    dead.attach(owner);
    await dead.writeRecord(recordOf(owner, ['vm-a', 'vm-b']));
    await dead.close(); // stops its heartbeat: the lease expires
    await until(async () => (await raw.exists(`${prefix}l:${owner.sessionId}`)) === 0, 'the lease to expire');
    const [a, b] = [
      createSessionManager({ dir: freshDir(), store: store(prefix) }),
      createSessionManager({ dir: freshDir(), store: store(prefix) }),
    ];
    const [listedA, listedB] = await Promise.all([a.store.listSessions(), b.store.listSessions()]);
    expect(listedA[0]?.lease).toBe('expired');
    const holds = await Promise.all([
      a.store.takeOver(listedA[0] as never, { ...owner, sessionId: a.sessionId, hostId: a.host.id }),
      b.store.takeOver(listedB[0] as never, { ...owner, sessionId: b.sessionId, hostId: b.host.id }),
    ]);
    expect(holds.filter((h) => h !== null)).toHaveLength(1);
    const winner = holds.find((h) => h !== null);
    await winner?.finish(null);
    expect(await raw.exists(`${prefix}s:${owner.sessionId}`)).toBe(0);
  });

  it('a reaper of another host that stalls mid-reap (its lease expires) leaves the record reapable: the next reaper takes it over', async () => {
    const prefix = freshPrefix();
    const dead = store(prefix);
    const owner = remoteOwner('orphaned');
    dead.attach(owner);
    await dead.writeRecord(recordOf(owner, ['vm-1', 'vm-2']));
    await dead.close();
    await until(async () => (await raw.exists(`${prefix}l:${owner.sessionId}`)) === 0, 'the lease to expire');
    const firstStore = store(prefix, { leaseTtlMs: 60_000, heartbeatMs: 50_000 }); // stalls: no beat in time
    const first = remoteOwner('first-reaper');
    firstStore.attach(first);
    const [listed] = await firstStore.listSessions();
    const hold = await firstStore.takeOver(listed as never, first);
    expect(hold).not.toBeNull();
    await raw.del(`${prefix}l:${first.sessionId}`); // the stalled reaper's lease runs out
    const next = createSessionManager({ dir: freshDir(), store: store(prefix) });
    const [again] = await next.store.listSessions();
    expect(again?.reaping?.by.sessionId).toBe(first.sessionId);
    expect(again?.reaping?.lease).toBe('expired');
    const report = await next.reapDeadSessions({ cleanup: async () => ({ ok: true }) });
    expect(report.cleaned.map((c) => c.resource.id).sort()).toEqual(['vm-1', 'vm-2']);
    expect(await raw.exists(`${prefix}s:${owner.sessionId}`)).toBe(0);
    // The first reaper's hold is void: its late writes are refused, nothing is written back.
    await expect(hold?.finish(recordOf(owner, ['vm-1']))).rejects.toMatchObject({
      code: 'E_SESSION_TAKEN_OVER',
    });
  });

  it('a reaper reaps a lease-expired session of another host, once; a session with a held lease is left alone', async () => {
    const prefix = freshPrefix();
    const alive = store(prefix);
    const aliveOwner = remoteOwner('alive');
    alive.attach(aliveOwner);
    await alive.writeRecord(recordOf(aliveOwner, ['vm-alive']));
    const gone = store(prefix);
    const goneOwner = remoteOwner('gone');
    gone.attach(goneOwner);
    await gone.writeRecord(recordOf(goneOwner, ['vm-gone-1', 'vm-gone-2']));
    await gone.close();
    await until(
      async () => (await raw.exists(`${prefix}l:${goneOwner.sessionId}`)) === 0,
      'the lease to expire',
    );
    const reaper = createSessionManager({ dir: freshDir(), store: store(prefix) });
    const cleaned: string[] = [];
    const report = await reaper.reapDeadSessions({
      cleanup: async (resource) => {
        cleaned.push(resource.id);
        return { ok: true };
      },
    });
    expect(cleaned.sort()).toEqual(['vm-gone-1', 'vm-gone-2']);
    expect(report.removed).toEqual([goneOwner.sessionId]);
    const listing = await listSessions({ store: reaper.store });
    expect(listing.map((l) => [l.record.sessionId, l.liveness])).toEqual([[aliveOwner.sessionId, 'live']]);
    expect((await reaper.reapDeadSessions({ cleanup: async () => ({ ok: true }) })).cleaned).toEqual([]);
  });

  it('two claimants of one port: exactly one wins; once the winner is dead (lease expired), exactly one of two new claimants takes it over', async () => {
    const prefix = freshPrefix();
    const host = { hostId: 'another-host-identity' };
    const claimant = (tag: string) => {
      const s = store(prefix);
      const owner = { ...remoteOwner(tag), ...host };
      s.attach(owner);
      return { s, owner };
    };
    const dead = () => false;
    const first = [claimant('a'), claimant('b')];
    const outcomes = await Promise.all(
      first.map(({ s, owner }) => s.claim({ kind: 'port', id: '127.0.0.1:8010', owner, holderIsDead: dead })),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    const loser = outcomes.find((o) => !o.ok);
    expect(loser && !loser.ok && loser.holder.sessionId).toBe(
      first[outcomes.findIndex((o) => o.ok)]?.owner.sessionId,
    );
    await Promise.all(first.map(({ s }) => s.close())); // both stop heartbeating: the winner's lease expires
    await until(async () => (await raw.keys(`${prefix}l:*`)).length === 0, 'the leases to expire');
    const second = [claimant('c'), claimant('d')];
    const expired = (_h: unknown, lease: string) => lease === 'expired';
    const again = await Promise.all(
      second.map(({ s, owner }) =>
        s.claim({ kind: 'port', id: '127.0.0.1:8010', owner, holderIsDead: expired }),
      ),
    );
    expect(again.filter((o) => o.ok)).toHaveLength(1);
    expect(again.find((o) => o.ok && o.takenOverFrom)).toBeTruthy();
    const claims = await second[0]?.s.listClaims('port');
    expect(claims?.map((c) => c.holder.sessionId)).toEqual([
      second[again.findIndex((o) => o.ok)]?.owner.sessionId,
    ]);
  });

  it('an owner whose lease expired but who was not reaped gets it back (kept); one that was taken over writes nothing back', async () => {
    const prefix = freshPrefix();
    const renewals: string[] = [];
    const s = store(prefix);
    s.on('leaseRenewed', (r) => renewals.push(r.outcome));
    const owner = remoteOwner('owner');
    s.attach(owner);
    await s.writeRecord(recordOf(owner, ['vm-1']));
    // The lease vanishes (as after a long pause); the record is untouched: the heartbeat re-establishes it.
    await raw.del(`${prefix}l:${owner.sessionId}`);
    await until(() => renewals.includes('kept'), 'the lease to be re-established');
    expect(await raw.get(`${prefix}l:${owner.sessionId}`)).toBe(s.leaseId);

    // Now a reaper takes the record over while the lease is gone.
    await raw.del(`${prefix}l:${owner.sessionId}`);
    const reaperStore = store(prefix);
    const reaper = remoteOwner('reaper');
    reaperStore.attach(reaper);
    const [listed] = await reaperStore.listSessions();
    const hold = await reaperStore.takeOver(listed as never, reaper);
    expect(hold).not.toBeNull();
    await until(() => renewals.includes('taken-over'), 'the owner to notice the take-over');
    await expect(s.writeRecord(recordOf(owner, ['vm-1', 'vm-2']))).rejects.toMatchObject({
      code: 'E_SESSION_TAKEN_OVER',
    });
    await hold?.finish(null); // cleaned up: the record is gone
    await expect(s.writeRecord(recordOf(owner, ['vm-1']))).rejects.toMatchObject({
      code: 'E_SESSION_TAKEN_OVER',
    });
    expect(await raw.exists(`${prefix}s:${owner.sessionId}`, `${prefix}l:${owner.sessionId}`)).toBe(0);
    expect(s.leaseId).toBeNull();
    expect(s.takenOver).toBe(true);
  });

  it('a store that only lists (a status command) creates no keys, even with a manager attached', async () => {
    const prefix = freshPrefix();
    const s = store(prefix);
    const manager = createSessionManager({ dir: freshDir(), store: s });
    await until(() => s.connected, 'the connection');
    expect(await listSessions({ store: s })).toEqual([]);
    expect(await s.listClaims('port')).toEqual([]);
    expect(await manager.getMyVm()).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the ready handler and a heartbeat tick run
    expect(await raw.keys(`${prefix}*`)).toEqual([]);
    expect(s.leaseId).toBeNull();
  });

  it('a listener that throws is logged, never let through (the store keeps working)', async () => {
    const prefix = freshPrefix();
    const warnings: string[] = [];
    const s = store(prefix, { logger: { warn: (_o, m) => warnings.push(m ?? '') } });
    s.on('leaseRenewed', () => {
      throw new Error('listener bug');
    });
    const owner = remoteOwner('listener');
    s.attach(owner);
    await s.writeRecord(recordOf(owner, ['vm-1']));
    await raw.del(`${prefix}l:${owner.sessionId}`);
    await until(
      async () => (await raw.exists(`${prefix}l:${owner.sessionId}`)) === 1,
      'the lease to come back',
    );
    await until(() => warnings.some((w) => w.includes('listener bug')), 'the listener error to be logged');
    await s.writeRecord(recordOf(owner, ['vm-1', 'vm-2']));
  });

  it('imports a v1 store once (records with their remaining lease time), leaving the v1 keys in place', async () => {
    const prefix = freshPrefix();
    const legacy = `v1-${prefix.slice(1, -2)}:`;
    const live = { ...recordOf(remoteOwner('v1-live'), ['vm-live']), hostId: undefined };
    const gone = { ...recordOf(remoteOwner('v1-gone'), ['vm-gone']), hostId: undefined };
    await raw.hset(`${legacy}sessions`, {
      [live.sessionId]: `v1 lease-live ${JSON.stringify(live)}`,
      [gone.sessionId]: `v1 lease-gone ${JSON.stringify(gone)}`,
      broken: 'v1 x {"not":"a record"}',
    });
    await raw.set(`${legacy}lease:${live.sessionId}`, 'lease-live', 'PX', 60_000);
    await raw.set(`${legacy}version`, '7');
    const warnings: string[] = [];
    const infos: string[] = [];
    const logger = {
      warn: (_o: object, m?: string) => warnings.push(m ?? ''),
      info: (_o: object, m?: string) => infos.push(m ?? ''),
    };
    const s = store(prefix, { legacyKeyPrefix: legacy, logger });
    const manager = createSessionManager({ dir: freshDir(), store: s });
    await until(() => infos.some((m) => m.includes('imported 2 session(s)')), 'the import');
    const listing = await listSessions({ store: s });
    const verdicts = Object.fromEntries(listing.map((l) => [l.record.sessionId, l.liveness]));
    expect(verdicts).toEqual({ [live.sessionId]: 'live', [gone.sessionId]: 'dead' }); // the live one kept its lease
    expect(await raw.pttl(`${prefix}l:${live.sessionId}`)).toBeGreaterThan(50_000);
    expect(await raw.hlen(`${legacy}sessions`)).toBe(3); // left in place
    expect(warnings.some((w) => w.includes('broken'))).toBe(true);
    // Once per fleet: a second manager does not import again (nor resurrect what was reaped since).
    await manager.reapDeadSessions({ cleanup: async () => ({ ok: true }) });
    expect(await raw.exists(`${prefix}s:${gone.sessionId}`)).toBe(0);
    const again: string[] = [];
    const second = store(prefix, {
      legacyKeyPrefix: legacy,
      logger: { warn() {}, info: (_o, m) => again.push(m ?? '') },
    });
    createSessionManager({ dir: freshDir(), store: second });
    await until(() => second.connected, 'the second store');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await raw.exists(`${prefix}s:${gone.sessionId}`)).toBe(0);
    expect(again.filter((m) => m.includes('imported'))).toEqual([]);
  });

  it("a record put back by a reaper (its version moved on, no mark) refuses the owner's next write at once", async () => {
    const prefix = freshPrefix();
    const s = store(prefix);
    const owner = remoteOwner('put-back');
    s.attach(owner);
    await s.writeRecord(recordOf(owner, ['vm-1']));
    const key = `${prefix}s:${owner.sessionId}`;
    const ver = (await raw.hget(key, 'ver')) as string;
    await raw.hset(
      key,
      'ver',
      ver.replace(/:(\d+)$/, (_m, n) => `:${Number(n) + 2}`),
    ); // take-over + finish
    const started = Date.now();
    await expect(s.writeRecord(recordOf(owner, ['vm-1', 'vm-2']))).rejects.toMatchObject({
      code: 'E_SESSION_TAKEN_OVER',
    });
    expect(Date.now() - started).toBeLessThan(2_000); // the fast path's miss falls back, it does not hang
    expect(JSON.parse((await raw.hget(key, 'rec')) as string).resources).toHaveLength(1); // nothing written back
  });

  it('the sync methods refuse with a warning naming the lease TTL, never throw', () => {
    const warnings: string[] = [];
    const s = store(freshPrefix(), { logger: { warn: (_o, m) => warnings.push(m ?? '') } });
    expect(s.writeRecordSync(recordOf(remoteOwner('x'), []))).toBe(false);
    expect(s.removeRecordSync('x')).toBe(false);
    expect(s.releaseClaimSync('port', 'p', 'x')).toBe(false);
    expect(s.readRecordSync('x')).toBeUndefined();
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/lease expires within 600 ms/);
  });

  it('warns on connect when maxmemory-policy could evict leases', async () => {
    await raw.config('SET', 'maxmemory-policy', 'volatile-lru');
    try {
      const warnings: string[] = [];
      const s = store(freshPrefix(), { logger: { warn: (_o, m) => warnings.push(m ?? '') } });
      await until(() => warnings.some((w) => w.includes('volatile-lru')), 'the eviction warning');
      expect(warnings.filter((w) => w.includes('maxmemory-policy'))).toHaveLength(1);
      expect(s.connected).toBe(true);
    } finally {
      await raw.config('SET', 'maxmemory-policy', 'noeviction');
    }
  });

  it('right after connecting, an absent lease reads as settling (nothing is reaped on it) until one TTL passed', async () => {
    const prefix = freshPrefix();
    const dead = store(prefix);
    const owner = remoteOwner('settle');
    dead.attach(owner);
    await dead.writeRecord(recordOf(owner, ['vm-s']));
    await dead.close();
    await until(async () => (await raw.exists(`${prefix}l:${owner.sessionId}`)) === 0, 'the lease to expire');
    const fresh = store(prefix, { settleMs: 800 });
    const reaper = createSessionManager({ dir: freshDir(), store: fresh });
    const early = await reaper.reapDeadSessions({ cleanup: async () => ({ ok: true }) });
    expect(early.cleaned).toEqual([]);
    expect(early.skipped[0]?.reason).toMatch(/reconnected less than one lease TTL ago/);
    await fresh.whenSettled();
    const later = await reaper.reapDeadSessions({ cleanup: async () => ({ ok: true }) });
    expect(later.cleaned.map((c) => c.resource.id)).toEqual(['vm-s']);
  });
});
