// Several processes against one real redis-server: concurrent registration
// and claims, a SIGSTOP'd owner on this host, a paused owner of another host
// that is reaped meanwhile, and a reaper SIGKILLed mid-cleanup.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createSessionManager } from '@core/session';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../src/index.js';
import {
  freshDir,
  freshPrefix,
  killMembers,
  type Member,
  rawClient,
  startMember,
  tempDir,
  until,
} from './helpers.js';
import { type RedisServer, SKIP_REASON, startRedisServer } from './redis-server.js';

if (SKIP_REASON) console.warn(`@core/session-redis: skipping the multi-process Redis tests: ${SKIP_REASON}`);

describe.skipIf(SKIP_REASON !== null)('a fleet of processes on one redis-server', { timeout: 90_000 }, () => {
  let server: RedisServer;
  let raw: Redis;
  const stores: RedisSessionStore[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    raw = rawClient(server.url);
  });
  afterEach(async () => {
    await killMembers();
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await killMembers();
    raw?.disconnect();
    await server?.dispose();
  });

  const members = (count: number, prefix: string, options: { ttl?: number; remote?: boolean } = {}) =>
    Promise.all(
      Array.from({ length: count }, () =>
        startMember({
          url: server.url,
          prefix,
          dir: freshDir(),
          leaseTtlMs: options.ttl ?? 5_000,
          heartbeatMs: Math.floor((options.ttl ?? 5_000) / 4),
          ...(options.remote ? { remote: true } : {}),
        }),
      ),
    );
  const all = (group: Member[], line: string) => {
    for (const m of group) m.send(line);
    return Promise.all(group.map((m) => m.next()));
  };
  const reaperManager = (prefix: string, ttl = 1_000) => {
    const store = new RedisSessionStore({
      url: server.url,
      keyPrefix: prefix,
      leaseTtlMs: ttl,
      heartbeatMs: Math.floor(ttl / 4),
      settleMs: 0,
    });
    stores.push(store);
    return createSessionManager({ dir: freshDir(), store });
  };

  it('8 processes × 50 registrations and 8 × 50 register+unregister cycles at once lose nothing; 8 claimants of 8 ports get 8 different ones', async () => {
    const prefix = freshPrefix();
    const group = await members(8, prefix);
    const registered = await all(group, 'register 50 r');
    expect(registered.every((r) => r['registered'] === 50)).toBe(true);
    const cycled = await all(group, 'cycles 50');
    expect(cycled.every((r) => r['cycles'] === 50)).toBe(true);
    const ids = (await raw.smembers(`${prefix}sessions`)).sort();
    expect(ids).toEqual(group.map((m) => m.sessionId).sort());
    for (const id of ids) {
      const record = JSON.parse((await raw.hget(`${prefix}s:${id}`, 'rec')) as string);
      expect(record.resources.map((r: { id: string }) => r.id).sort()).toEqual(
        Array.from({ length: 50 }, (_, i) => `r-${i}`).sort(),
      );
      // 50 + 2 × 50 compare-and-set writes, none lost: each moved the version one step. (A write
      // whose reply timed out on a loaded machine had landed, and is written once more on top of
      // itself, so the count may pass 150; it can never fall short of it.)
      const version = Number(/:(\d+)$/.exec((await raw.hget(`${prefix}s:${id}`, 'ver')) ?? '')?.[1]);
      expect(version).toBeGreaterThanOrEqual(150);
    }
    const claims = await all(group, 'claim port p1,p2,p3,p4,p5,p6,p7,p8');
    expect(new Set(claims.map((c) => c['claimed'])).size).toBe(8);
    expect(claims.every((c) => typeof c['claimed'] === 'string')).toBe(true);
    const gone = await all(group, 'unregister');
    expect(gone.every((r) => r['unregistered'] === true)).toBe(true);
    expect(await raw.scard(`${prefix}sessions`)).toBe(0);
    expect(await raw.keys(`${prefix}c:*`)).toEqual([]);
  });

  it('two claimant processes of one port: exactly one wins; after the winner died, exactly one of two new claimants takes it over', async () => {
    const prefix = freshPrefix();
    const first = await members(2, prefix, { ttl: 1_000 });
    const won = await all(first, 'claim port 8010');
    expect(won.filter((r) => r['claimed'] === '8010')).toHaveLength(1);
    const winner = first[won.findIndex((r) => r['claimed'] === '8010')] as Member;
    winner.child.kill('SIGKILL'); // dies holding the claim; same host: its pid is gone, no need to wait for its lease
    await winner.exited;
    const second = await members(2, prefix, { ttl: 1_000 });
    const again = await all(second, 'claim port 8010');
    expect(again.filter((r) => r['claimed'] === '8010')).toHaveLength(1);
    const claimKeys = await raw.keys(`${prefix}c:port:*`);
    expect(claimKeys).toHaveLength(1);
    const holder = { sessionId: /^v2 (\S+) /.exec((await raw.get(claimKeys[0] as string)) ?? '')?.[1] };
    expect(second.map((m) => m.sessionId)).toContain(holder.sessionId);
  });

  it("a SIGSTOP'd owner on this host whose lease expired keeps its resources when another process reaps", async () => {
    const prefix = freshPrefix();
    const [owner] = (await members(1, prefix, { ttl: 600 })) as [Member];
    owner.send('register 3 stopped');
    expect(await owner.next()).toEqual({ registered: 3 });
    process.kill(owner.child.pid as number, 'SIGSTOP');
    try {
      await until(
        async () => (await raw.exists(`${prefix}l:${owner.sessionId}`)) === 0,
        'the lease to expire',
      );
      const reaper = reaperManager(prefix);
      const report = await reaper.reapDeadSessions({ cleanup: async () => ({ ok: true }) });
      expect(report.cleaned).toEqual([]);
      expect(report.sessions).toEqual([]);
      const listing = await reaper.listSessions();
      expect(listing.map((l) => [l.record.sessionId, l.liveness, l.thisHost])).toEqual([
        [owner.sessionId, 'live', true],
      ]);
      expect(listing[0]?.reason).toMatch(/alive with the recorded start time/);
    } finally {
      process.kill(owner.child.pid as number, 'SIGCONT');
    }
    // Resumed: the record is untouched, so its heartbeat re-establishes the lease.
    await until(
      async () => (await raw.exists(`${prefix}l:${owner.sessionId}`)) === 1,
      'the lease to be back',
    );
    owner.send('status');
    const renewals = (await owner.next())['renewals'] as string[];
    expect(renewals).toContain('kept'); // a loaded machine may let it lapse more than once; never taken over
    expect(renewals.filter((r) => r !== 'kept')).toEqual([]);
    const record = JSON.parse((await raw.hget(`${prefix}s:${owner.sessionId}`, 'rec')) as string);
    expect(record.resources).toHaveLength(3);
  });

  it('a paused owner of another host is reaped once its lease expired; resumed, it writes nothing back', async () => {
    const prefix = freshPrefix();
    const [owner] = (await members(1, prefix, { ttl: 600, remote: true })) as [Member];
    owner.send('register 2 far');
    expect(await owner.next()).toEqual({ registered: 2 });
    process.kill(owner.child.pid as number, 'SIGSTOP');
    let cleaned: string[];
    try {
      await until(
        async () => (await raw.exists(`${prefix}l:${owner.sessionId}`)) === 0,
        'the lease to expire',
      );
      const reaper = reaperManager(prefix);
      const report = await reaper.reapDeadSessions({ cleanup: async () => ({ ok: true }) });
      cleaned = report.cleaned.map((c) => c.resource.id).sort();
    } finally {
      process.kill(owner.child.pid as number, 'SIGCONT');
    }
    expect(cleaned).toEqual(['far-0', 'far-1']);
    expect(await raw.exists(`${prefix}s:${owner.sessionId}`)).toBe(0);
    await until(async () => {
      owner.send('status');
      return (await owner.next())['takenOver'] === true;
    }, 'the owner to learn it was taken over');
    owner.send('write');
    expect(await owner.next()).toEqual({ error: 'E_SESSION_TAKEN_OVER' });
    expect(await raw.exists(`${prefix}s:${owner.sessionId}`, `${prefix}l:${owner.sessionId}`)).toBe(0);
  });

  it('a reaper SIGKILLed mid-cleanup leaves every resource reapable: the next reaper cleans them all', async () => {
    const prefix = freshPrefix();
    const [dead] = (await members(1, prefix, { ttl: 600, remote: true })) as [Member];
    dead.send('register 4 orphan');
    expect(await dead.next()).toEqual({ registered: 4 });
    dead.child.kill('SIGKILL');
    await dead.exited;
    await until(async () => (await raw.exists(`${prefix}l:${dead.sessionId}`)) === 0, 'the lease to expire');
    const [reaper] = (await members(1, prefix, { ttl: 600 })) as [Member];
    const marker = join(tempDir('reaper-marker-'), 'started');
    reaper.send(`reap-block ${marker}`);
    expect(await reaper.next()).toEqual({ reaping: true });
    await until(() => existsSync(marker), 'a cleanup to start');
    expect(await raw.hget(`${prefix}s:${dead.sessionId}`, 'reaper')).toContain(reaper.sessionId);
    reaper.child.kill('SIGKILL');
    await reaper.exited;
    // Same host: the killed reaper's pid is gone, so its hold is judged dead at once.
    const next = reaperManager(prefix);
    const cleaned: string[] = [];
    const report = await next.reapDeadSessions({
      cleanup: async (resource) => {
        cleaned.push(resource.id);
        return { ok: true };
      },
    });
    expect(cleaned.sort()).toEqual(['orphan-0', 'orphan-1', 'orphan-2', 'orphan-3']);
    expect(report.removed).toEqual([dead.sessionId]);
    expect(await raw.exists(`${prefix}s:${dead.sessionId}`)).toBe(0);
  });
});
