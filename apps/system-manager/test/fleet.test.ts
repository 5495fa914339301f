// The app on the fleet-wide Redis session registry (CORE_SESSION_REDIS_URL):
// `start` registers its session as a lease, `status` lists every host's
// sessions and marks this one, `sessions cleanup` reaps expired leases and
// never kills a pid of another host's session.

import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, killTagged, portEnv, run, runToEnd, tempDir } from './helpers.js';
import { REDIS_SERVER_BIN, redisCommand, SKIP_REDIS, startRedis } from './redis.js';

if (REDIS_SERVER_BIN === null)
  console.warn(
    'system-manager: skipping the Redis registry tests: no redis-server binary (install the Debian package redis-server)',
  );

function plantedSession(sessionId: string, hostname: string, resources: object[]) {
  const now = Date.now();
  return `v1 lease-${sessionId} ${JSON.stringify({
    sessionId,
    pid: process.pid,
    hostname,
    processStartTime: null,
    createdAt: now,
    registeredAt: now,
    status: 'active',
    vmId: null,
    zone: null,
    components: [],
    metadata: {},
    resources: resources.map((r) => ({ registeredAt: now, ...r })),
  })}`;
}

describe.skipIf(SKIP_REDIS)('system-manager on the Redis session registry', { timeout: 60_000 }, () => {
  let redis: { url: string; stop: () => Promise<void> };
  const raw = (...args: (string | number)[]) => redisCommand(redis.url, ...args);
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await killTagged();
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
    await raw(
      'HSET',
      'core-session:sessions',
      'remote-live',
      plantedSession('remote-live', 'other-host-a', [{ kind: 'vm', id: 'vm-a' }]),
    );
    await raw('SET', 'core-session:lease:remote-live', 'lease-remote-live', 'PX', 60_000);

    const manager = run(['start', '--config', configFile], { ...env, ...(await portEnv()) });
    const ready = await manager.waitForLog((e) => e['msg'] === 'all services healthy');
    const control = Number(String(ready['control']).split(':').pop());
    const served = JSON.parse((await httpGet(control, '/status')).body);
    // Planted after start (which reaps stale sessions itself on the way up).
    await raw(
      'HSET',
      'core-session:sessions',
      'remote-stale',
      plantedSession('remote-stale', 'other-host-b', [
        { kind: 'process', id: 'svc@1', pid: process.pid, processStartTime: 'x' },
      ]),
    );
    expect(served.sessionStore).toMatchObject({ kind: 'redis', connected: true, leaseRenewals: [] });
    expect(served.sessionStore.leaseId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await raw('GET', `core-session:lease:${served.sessionId}`)).toBe(served.sessionStore.leaseId);

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
    expect(doc.sessions.filter((s) => s.liveness === 'dead').map((s) => s.sessionId)).toEqual([
      'remote-stale',
    ]);
    const listed = { sessions: doc.sessions.filter((s) => s.liveness !== 'dead') };
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

    const cleanup = await runToEnd(['sessions', 'cleanup', '--json'], env);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(JSON.parse(cleanup.stdout)).toMatchObject({
      removed: 1,
      sessions: ['remote-stale'],
      actions: [{ kind: 'process', id: 'svc@1', outcome: 'skipped-other-host' }],
    });
    expect(await raw('HEXISTS', 'core-session:sessions', served.sessionId)).toBe(1);

    // SIGTERM: the manager unregisters (record and lease gone) and exits: the Redis connection does not keep it alive.
    manager.child.kill('SIGTERM');
    expect((await manager.exited).code).toBe(0);
    expect(await raw('HEXISTS', 'core-session:sessions', served.sessionId)).toBe(0);
    expect(await raw('EXISTS', `core-session:lease:${served.sessionId}`)).toBe(0);
    tmp.remove();
  });
});
