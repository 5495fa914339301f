// The app on the fleet-wide Redis session registry (CORE_SESSION_REDIS_URL):
// `start` registers its session as a lease, `status` lists every host's
// sessions and marks this one, `sessions cleanup` reaps expired leases and
// never kills a pid of another host's session.

import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedisSessionStore } from '@core/session-redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, httpGet, killTagged, portEnv, run, runToEnd, tempDir } from './helpers.js';
import { REDIS_SERVER_BIN, redisCommand, SKIP_REDIS, startRedis } from './redis.js';

if (REDIS_SERVER_BIN === null)
  console.warn(
    'system-manager: skipping the Redis registry tests: no redis-server binary (install the Debian package redis-server)',
  );

const P = '{core-session}:';

/**
 * Plants another host's session through a real store (the record as a v2
 * store writes it: versioned hash, lease key, index). `keepLease: false`
 * closes the store and drops the lease, as when that host died.
 */
async function plantRemote(
  url: string,
  owner: { sessionId: string; hostname: string; pid: number; processStartTime: string },
  resources: Record<string, unknown>[],
  keepLease: boolean,
  fleetKey?: Uint8Array,
): Promise<RedisSessionStore> {
  const store = new RedisSessionStore({
    url,
    leaseTtlMs: 2_000,
    heartbeatMs: 400,
    ...(fleetKey === undefined ? {} : { fleetKey }),
  });
  const identity = { ...owner, hostId: `${owner.hostname}-identity`, createdAt: Date.now() };
  store.attach(identity);
  const now = Date.now();
  await store.writeRecord({
    ...identity,
    registeredAt: now,
    status: 'active',
    vmId: null,
    zone: null,
    components: [],
    metadata: {},
    resources: resources.map((r) => ({ registeredAt: now, ...r })) as never,
  });
  if (!keepLease) {
    await store.close();
    await redisCommand(url, 'DEL', `${P}l:${owner.sessionId}`);
  }
  return store;
}

describe.skipIf(SKIP_REDIS)('system-manager on the Redis session registry', { timeout: 60_000 }, () => {
  let redis: { url: string; stop: () => Promise<void> };
  const raw = (...args: (string | number)[]) => redisCommand(redis.url, ...args);
  beforeAll(async () => {
    redis = await startRedis();
  });
  const stores: RedisSessionStore[] = [];
  afterAll(async () => {
    await killTagged();
    for (const store of stores.splice(0)) await store.close();
    await redis?.stop();
  });

  it('start registers a lease; status lists every host and marks this one; cleanup reaps expired leases only', async () => {
    const tmp = tempDir('sm-fleet-');
    const configFile = path.join(tmp.dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({ services: [], session: { leaseTtlMs: 2_000, heartbeatMs: 400 } }),
    );
    const env = { CORE_SESSION_DIR: path.join(tmp.dir, 'sessions'), CORE_SESSION_REDIS_URL: redis.url };
    // Another host's live session; below, another host's session whose lease expired (its "process" has our pid: it must not be killed).
    const live = await plantRemote(
      redis.url,
      { sessionId: 'remote-live', hostname: 'other-host-a', pid: 4_000_001, processStartTime: '1' },
      [{ kind: 'vm', id: 'vm-a' }],
      true,
    );
    stores.push(live);

    const manager = run(['start', '--config', configFile], { ...env, ...(await portEnv()) });
    const ready = await manager.waitForLog((e) => e['msg'] === 'all services healthy');
    const control = Number(String(ready['control']).split(':').pop());
    const served = JSON.parse((await httpGet(control, '/status')).body);
    // Planted after start (which reaps stale sessions itself on the way up).
    await plantRemote(
      redis.url,
      { sessionId: 'remote-stale', hostname: 'other-host-b', pid: process.pid, processStartTime: 'x' },
      [{ kind: 'process', id: 'svc@1', pid: process.pid, processStartTime: 'x' }],
      false,
    );
    expect(served.sessionStore).toMatchObject({ kind: 'redis', connected: true, leaseRenewals: [] });
    expect(served.sessionStore.leaseId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await raw('GET', `${P}l:${served.sessionId}`)).toBe(served.sessionStore.leaseId);

    const status = await runToEnd(['status', '--json', '--config', configFile], env);
    expect(status.code, status.stderr).toBe(0);
    const doc = JSON.parse(status.stdout) as {
      registry: { kind: string };
      sessions: {
        sessionId: string;
        hostname: string;
        thisHost: boolean;
        liveness: string;
        ports: Record<string, number>;
      }[];
    };
    expect(doc.registry.kind).toBe('redis');
    // A listing store that just connected cannot tell an expired lease from one
    // about to be renewed after an outage: the dead host's session shows as not
    // live (unknown while settling, dead after), never as live; only the reaper
    // below, after waiting one TTL, acts on it.
    const stale = doc.sessions.find((s) => s.sessionId === 'remote-stale');
    expect(stale?.liveness, JSON.stringify(stale)).toMatch(/^(unknown|dead)$/);
    const listed = { sessions: doc.sessions.filter((s) => s.liveness === 'live') };
    expect(listed.sessions.map((s) => [s.sessionId, s.hostname, s.thisHost]).sort()).toEqual(
      [
        [served.sessionId, os.hostname(), true],
        ['remote-live', 'other-host-a', false],
      ].sort(),
    );
    expect(listed.sessions.find((s) => s.thisHost)?.ports['control']).toBe(control);
    const text = await runToEnd(['status'], env);
    expect(text.stdout).toContain(`on ${os.hostname()} (this host)`);
    expect(text.stdout).toContain('on other-host-a,');

    const cleanup = await runToEnd(['sessions', 'cleanup', '--json', '--config', configFile], env);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(JSON.parse(cleanup.stdout)).toMatchObject({
      removed: 1,
      sessions: ['remote-stale'],
      actions: [{ kind: 'process', id: 'svc@1', outcome: 'skipped-other-host' }],
    });
    expect(await raw('EXISTS', `${P}s:${served.sessionId}`)).toBe(1);
    expect(await raw('EXISTS', `${P}s:remote-stale`)).toBe(0);
    expect(await raw('EXISTS', `${P}s:remote-live`)).toBe(1);

    // SIGTERM: the manager unregisters (record and lease gone) and exits: the Redis connection does not keep it alive.
    manager.child.kill('SIGTERM');
    expect((await manager.exited).code).toBe(0);
    expect(await raw('EXISTS', `${P}s:${served.sessionId}`)).toBe(0);
    expect(await raw('EXISTS', `${P}l:${served.sessionId}`)).toBe(0);
    tmp.remove();
  });

  it('with a fleet key, planted records (unsigned, another key) get no cleanup command; doctor reports the key; an unsafe key file is a config error', async () => {
    const tmp = tempDir('sm-fleet-key-');
    const keyFile = path.join(tmp.dir, 'fleet.key');
    writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
    const calls = path.join(tmp.dir, 'calls.jsonl');
    writeFileSync(calls, '');
    const prefix = `{fleet-key-${Date.now()}}:`;
    const configFile = path.join(tmp.dir, 'config.json');
    const config = (extra: Record<string, unknown>) =>
      JSON.stringify({
        services: [],
        session: { leaseTtlMs: 2_000, heartbeatMs: 400, keyPrefix: prefix, ...extra },
        cleanup: { vm: { command: [process.execPath, path.join(FIXTURES, 'record-cleanup.mjs'), '{id}'] } },
      });
    writeFileSync(configFile, config({ fleetKeyFile: keyFile }));
    const env = {
      CORE_SESSION_DIR: path.join(tmp.dir, 'sessions'),
      CORE_SESSION_REDIS_URL: redis.url,
      RECORD_FILE: calls,
    };
    const dead = { hostname: 'gone-host', pid: 4_000_002, processStartTime: '1' };
    for (const [sessionId, key] of [
      ['planted-unsigned', undefined],
      ['planted-other-key', randomBytes(32)],
    ] as const) {
      const store = new RedisSessionStore({
        url: redis.url,
        keyPrefix: prefix,
        leaseTtlMs: 2_000,
        heartbeatMs: 400,
        ...(key === undefined ? {} : { fleetKey: key }),
      });
      store.attach({ sessionId, ...dead, hostId: 'gone-host-identity', createdAt: Date.now() });
      await store.writeRecord({
        sessionId,
        ...dead,
        hostId: 'gone-host-identity',
        createdAt: Date.now(),
        registeredAt: Date.now(),
        status: 'active',
        vmId: null,
        zone: null,
        components: [],
        metadata: {},
        resources: [{ kind: 'vm', id: `prod-${sessionId}`, registeredAt: Date.now() }],
      });
      await store.close();
      await raw('DEL', `${prefix}l:${sessionId}`);
    }

    const cleanup = await runToEnd(['sessions', 'cleanup', '--json', '--config', configFile], env);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(JSON.parse(cleanup.stdout)).toMatchObject({ removed: 0, actions: [] });
    expect(readFileSync(calls, 'utf8')).toBe('');
    expect(cleanup.stderr).toMatch(/does not verify with the fleet key|not signed with the fleet key/);
    expect(await raw('EXISTS', `${prefix}s:planted-unsigned`, `${prefix}s:planted-other-key`)).toBe(2);

    const doctor = await runToEnd(['doctor', '--config', configFile], env);
    expect(doctor.stdout).toMatch(
      /fleet key.*signed \(HMAC-SHA256\) with the key from config session\.fleetKeyFile/,
    );
    writeFileSync(configFile, config({}));
    const unsigned = await runToEnd(['doctor', '--config', configFile], env);
    expect(unsigned.stdout).toMatch(/WARN.*fleet key.*not signed/);

    chmodSync(keyFile, 0o644);
    const refused = await runToEnd(['sessions', 'cleanup', '--config', configFile], {
      ...env,
      CORE_SESSION_FLEET_KEY_FILE: keyFile,
    });
    expect(refused.code).toBe(78);
    expect(refused.stderr).toContain(
      `CORE_SESSION_FLEET_KEY_FILE: the fleet key file ${keyFile} is readable or writable by others (mode 0644)`,
    );
    tmp.remove();
  });
});
