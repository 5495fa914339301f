// Supervision with real processes: a service killed with -9 comes back on the
// same port with a new pid (and a new session record); a crash loop ends in
// `failed` and the manager exits non-zero so systemd's own Restart= takes
// over; a service that stops answering is restarted after `unhealthyAfter`
// failed checks; restart "never" leaves it down while the manager stays up.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import type { ServiceStatus } from '../src/index.js';
import {
  httpGet,
  isAlive,
  killTagged,
  liveSessions,
  type ManagerUnderTest,
  misbehaving,
  startManager,
  taggedPids,
  tempDir,
  waitUntil,
} from './helpers.js';

const managers: ManagerUnderTest[] = [];
afterEach(async () => {
  await killTagged();
  for (const m of managers.splice(0)) m.remove();
});

async function manager(config: Record<string, unknown>): Promise<ManagerUnderTest> {
  const m = await startManager({ shutdown: { graceMs: 2_000 }, ...config });
  managers.push(m);
  return m;
}

type Svc = ServiceStatus;
const service = async (m: ManagerUnderTest, name: string): Promise<Svc> =>
  ((await m.status()).services as Svc[]).find((s) => s.name === name) as Svc;

describe('supervision (real processes)', { timeout: 60_000 }, () => {
  it('kill -9 of a service: restarted on the same port, new pid re-registered in the session, restarts and lastExit in /status', async () => {
    const m = await manager({
      services: [misbehaving('api', '', { backoff: { initialMs: 100 } })],
    });
    const control = await m.ready();
    const before = await service(m, 'api');
    expect(before).toMatchObject({ state: 'healthy', health: 'ok', restarts: 0, lastExit: null });
    expect(before.startedAt).toBeGreaterThan(0);

    const killedAt = Date.now();
    process.kill(before.pid as number, 'SIGKILL');
    await m.waitForLog((e) => e['msg'] === 'service api answering again');
    const answeringAfterMs = Date.now() - killedAt;
    const after = await service(m, 'api');
    expect(after.pid).not.toBe(before.pid);
    expect(after.port).toBe(before.port);
    expect(after).toMatchObject({
      state: 'healthy',
      restarts: 1,
      lastExit: { code: null, signal: 'SIGKILL' },
    });
    expect(JSON.parse((await httpGet(after.port, '/health')).body).pid).toBe(after.pid);
    expect((await httpGet(control, '/health')).status).toBe(200);
    // Within backoff (100 ms) + its own start, with a wide margin for a loaded machine.
    expect(answeringAfterMs).toBeLessThan(5_000);

    // The session holds the new pid only (one write replaced the old record with the new one).
    await waitUntil(
      async () => JSON.stringify((await liveSessions(m.env))[0]?.servicePids) === JSON.stringify([after.pid]),
      10_000,
      'session to list only the new pid',
    );

    // The registry record carries the restart count too (metadata.restarts, for `status --json`).
    const records = readdirSync(m.env['CORE_SESSION_DIR'] as string, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile() && f.name.endsWith('.json'))
      .map((f) => readFileSync(path.join(f.parentPath, f.name), 'utf8'));
    const restartsOnRecord = records.flatMap((text) => {
      const record = JSON.parse(text) as { resources?: { id: string; metadata?: { restarts?: number } }[] };
      return (record.resources ?? [])
        .filter((r) => r.id === `api@${after.pid}`)
        .map((r) => r.metadata?.restarts);
    });
    expect(restartsOnRecord, records.join('\n')).toEqual([1]);

    m.child.kill('SIGTERM');
    expect((await m.exited).code).toBe(0);
    expect(isAlive(after.pid as number)).toBe(false);
  });

  it('a crash loop exhausts maxRestarts: the service is failed and the manager exits 70, leaving nothing', async () => {
    const m = await manager({
      services: [
        misbehaving('crashy', 'crash-after', {
          env: { CRASH_AFTER_MS: '150' },
          maxRestarts: 2,
          restartWindowMs: 60_000,
          backoff: { initialMs: 50, maxMs: 200 },
        }),
      ],
    });
    await m.ready();
    const { code } = await m.exited;
    expect(code).toBe(70);
    const lines = m.stderr();
    expect(lines).toContain('restarting crashy in 50 ms');
    expect(lines).toContain('restarting crashy in 100 ms');
    expect(lines).toContain('service crashy failed: 2 restarts within 60000 ms');
    expect(lines).toContain('crashing on purpose'); // its own output reached our log
    expect(await liveSessions(m.env)).toEqual([]);
  });

  it('with onServiceFailed "keep-running" a failed service shows as failed and the manager stays up', async () => {
    const m = await manager({
      supervision: { onServiceFailed: 'keep-running' },
      services: [
        misbehaving('crashy', 'crash-after', {
          env: { CRASH_AFTER_MS: '100' },
          maxRestarts: 1,
          backoff: { initialMs: 50 },
        }),
      ],
    });
    const control = await m.ready();
    await m.waitForLog((e) => String(e['msg']).startsWith('service crashy failed'));
    const failed = await service(m, 'crashy');
    expect(failed).toMatchObject({ state: 'failed', restarts: 1, pid: null, lastExit: { code: 1 } });
    expect((await httpGet(control, '/health')).status).toBe(503);
    expect(m.child.exitCode).toBeNull();
    m.child.kill('SIGTERM');
    expect((await m.exited).code).toBe(0);
  });

  it('a service that stops answering is restarted after unhealthyAfter failed checks', async () => {
    const m = await manager({
      intervals: { healthMs: 200 },
      services: [
        misbehaving('hangs', 'hang-after', {
          env: { HANG_AFTER_MS: '300' },
          unhealthyAfter: 2,
          backoff: { initialMs: 50 },
          maxRestarts: 10,
        }),
      ],
    });
    await m.ready();
    const first = await service(m, 'hangs');
    await m.waitForLog((e) => e['msg'] === 'service hangs is unhealthy: restarting it');
    await m.waitForLog((e) => e['msg'] === 'service hangs answering again');
    const second = await service(m, 'hangs');
    expect(second.pid).not.toBe(first.pid);
    expect(second.restarts).toBeGreaterThanOrEqual(1);
    expect(second.healthCheckFailures).toBeGreaterThanOrEqual(2);
    await waitUntil(() => !isAlive(first.pid as number), 5_000, 'the hung process to be stopped');
  });

  it('a service that keeps passing is checked less and less often, up to intervals.healthIdleMs', async () => {
    const tmp = tempDir('sm-cadence-');
    onTestFinished(tmp.remove);
    const hits = path.join(tmp.dir, 'health.log');
    const m = await manager({
      intervals: { healthMs: 100, healthIdleMs: 800 },
      services: [misbehaving('steady', '', { env: { HEALTH_LOG: hits } })],
    });
    await m.ready();
    const since = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const times = readFileSync(hits, 'utf8')
      .trim()
      .split('\n')
      .map(Number)
      .filter((t) => t >= since);
    // Fixed at 100 ms this would be ~40 checks; doubling to 800 ms gives 100, 200, 400, 800, 800, …: ~7.
    expect(times.length).toBeGreaterThanOrEqual(4);
    expect(times.length).toBeLessThanOrEqual(12);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(700);
    expect(Math.max(...gaps)).toBeLessThan(2_000); // never beyond the idle interval (plus scheduling slack)
    expect(await service(m, 'steady')).toMatchObject({ state: 'healthy', healthCheckFailures: 0 });
  });

  it('SIGTERM while a service waits out its backoff: exit 0 at once, nothing left', async () => {
    const m = await manager({
      services: [
        misbehaving('flaky', 'crash-after', {
          env: { CRASH_AFTER_MS: '100' },
          backoff: { initialMs: 5_000 },
        }),
      ],
    });
    await m.ready();
    await m.waitForLog((e) => e['msg'] === 'restarting flaky in 5000 ms');
    const signalledAt = Date.now();
    m.child.kill('SIGTERM');
    expect((await m.exited).code, m.stderr()).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(3_000);
    await waitUntil(() => taggedPids().length === 0, 5_000, 'no process left');
  });

  it('SIGTERM while a restarted service is still starting: exit 0, the new process is stopped too', async () => {
    const slowFlag = path.join(os.tmpdir(), `sm-slow-${process.pid}-${Date.now()}`);
    const m = await manager({
      services: [misbehaving('api', '', { env: { SLOW_START_FILE: slowFlag }, backoff: { initialMs: 10 } })],
    });
    try {
      await m.ready();
      const first = ((await m.status()).services[0] as Svc).pid as number;
      writeFileSync(slowFlag, ''); // the restart will take 30 s to listen
      process.kill(first, 'SIGKILL');
      const restarted = await m.waitForLog(
        (e) => e['msg'] === 'service started' && Number(e['servicePid']) !== first,
      );
      m.child.kill('SIGTERM');
      expect((await m.exited).code, m.stderr()).toBe(0);
      expect(isAlive(Number(restarted['servicePid']))).toBe(false);
      await waitUntil(() => taggedPids().length === 0, 5_000, 'no process left');
    } finally {
      rmSync(slowFlag, { force: true });
    }
  });

  it('restart "never": a crashed service stays down, /health says so, the manager keeps running', async () => {
    const m = await manager({
      services: [misbehaving('once', 'crash-after', { env: { CRASH_AFTER_MS: '200' }, restart: 'never' })],
    });
    const control = await m.ready();
    await m.waitForLog((e) => String(e['msg']).includes('not restarted: restart policy "never"'));
    expect(await service(m, 'once')).toMatchObject({ state: 'exited', restarts: 0, lastExit: { code: 1 } });
    expect((await httpGet(control, '/health')).status).toBe(503);
    await new Promise((r) => setTimeout(r, 300));
    expect(m.child.exitCode).toBeNull();
  });
});
