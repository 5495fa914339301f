// Nothing from outside crashes the manager: malformed IPC messages, a full
// disk under the session directory, a Redis registry SIGKILLed and restarted.
// Each test asserts the manager process never exited, shows the degraded
// state while it lasts, and logs it once when it begins and once when it ends.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceStatus } from '../src/index.js';
import {
  httpGet,
  killTagged,
  liveSessions,
  logLines,
  type ManagerUnderTest,
  misbehaving,
  startManager,
  tempDir,
  waitUntil,
} from './helpers.js';
import { SKIP_REDIS, startRedis } from './redis.js';

const managers: ManagerUnderTest[] = [];
const undo: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  await killTagged();
  for (const u of undo.splice(0).reverse()) await u();
  for (const m of managers.splice(0)) m.remove();
});

type Svc = ServiceStatus;

describe('the manager never falls over (real processes)', { timeout: 60_000 }, () => {
  it('malformed IPC messages are refused, counted per service and logged once per kind with the value', async () => {
    const m = await startManager({ services: [misbehaving('bad', 'bad-messages')] });
    managers.push(m);
    const control = await m.ready();
    await waitUntil(
      async () => ((await m.status()).services as Svc[])[0]?.badMessages === 6,
      10_000,
      '6 bad messages',
    );
    const refused = logLines(m).filter((e) => String(e['msg']).startsWith('refused a bad message from bad'));
    expect(refused.map((e) => e['kind']).sort()).toEqual(
      [
        'cleanup.entriesCleaned',
        'hit.addCostSavings',
        'message',
        'message.event',
        'miss.uninitialized',
      ].sort(),
    );
    expect(refused.find((e) => e['kind'] === 'cleanup.entriesCleaned')?.['value']).toBe(String(2 ** 60));
    // The one good message still counted; the manager and its service are up.
    await waitUntil(
      async () => /cache_hits_total\{cache="bad"\} 1/.test((await httpGet(control, '/metrics')).body),
      5_000,
      'the good hit in /metrics',
    );
    expect((await httpGet(control, '/health')).status).toBe(200);
    expect(m.child.exitCode).toBeNull();
    m.child.kill('SIGTERM');
    expect((await m.exited).code).toBe(0);
  });

  it('a full disk under the session directory plus bad messages: degraded, services keep running and restart, healed when space is back', async (ctx) => {
    const mount = tempDir('sm-fulldisk-');
    undo.push(() => mount.remove());
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', mount.dir]);
    } catch (error) {
      ctx.skip(`cannot mount a tmpfs (needs root): ${(error as Error).message}`);
    }
    undo.push(() => {
      execFileSync('umount', ['-l', mount.dir]);
    });
    const sessions = path.join(mount.dir, 'sessions');
    const m = await startManager(
      {
        intervals: { validateMs: 300 },
        // It also sends malformed IPC messages on every start: a full disk, restarts and garbage at once.
        services: [misbehaving('api', 'bad-messages', { backoff: { initialMs: 50 } })],
      },
      { CORE_SESSION_DIR: sessions },
    );
    managers.push(m);
    await m.ready();
    const before = ((await m.status()).services as Svc[])[0] as Svc;

    // Fill the disk to the last byte.
    const filler = path.join(mount.dir, 'filler');
    mkdirSync(path.dirname(filler), { recursive: true });
    try {
      writeFileSync(filler, Buffer.alloc(512 * 1024));
    } catch {
      // ENOSPC once full: that is the point.
    }
    process.kill(before.pid as number, 'SIGKILL');
    await m.waitForLog((e) => String(e['msg']).startsWith('session store unavailable'));
    await m.waitForLog((e) => e['msg'] === 'service api answering again');
    const degraded = await m.status();
    expect(degraded['store']).toMatchObject({ up: false });
    expect(String(degraded['store'].lastError)).toMatch(/ENOSPC|no space/i);
    const restarted = (degraded['services'] as Svc[])[0] as Svc;
    expect(restarted).toMatchObject({ state: 'healthy', restarts: 1 });

    rmSync(filler);
    await m.waitForLog((e) => e['msg'] === 'session store available again');
    expect((await m.status())['store']).toMatchObject({ up: true, lastError: expect.any(String) });
    // The new process is registered (healed), the killed one is not.
    await waitUntil(
      async () =>
        JSON.stringify((await liveSessions(m.env))[0]?.servicePids) === JSON.stringify([restarted.pid]),
      10_000,
      'the session to list the restarted pid only',
    );
    const outages = logLines(m).filter((e) => String(e['msg']).startsWith('session store unavailable'));
    expect(outages).toHaveLength(1);
    await waitUntil(
      async () => (await m.status()).services[0]?.badMessages === 12,
      5_000,
      '6 bad messages per start',
    );
    expect(m.child.exitCode).toBeNull();
    m.child.kill('SIGTERM');
    expect((await m.exited).code).toBe(0);
  });

  it.skipIf(SKIP_REDIS)(
    'a Redis registry SIGKILLed for longer than the lease: degraded, nothing exits; restarted: lease and records re-established',
    async () => {
      const redis = await startRedis();
      undo.push(() => redis.stop());
      const m = await startManager(
        {
          intervals: { validateMs: 300 },
          session: { leaseTtlMs: 1_500, heartbeatMs: 300 },
          services: [misbehaving('api', '')],
        },
        { CORE_SESSION_REDIS_URL: redis.url },
      );
      managers.push(m);
      const control = await m.ready();
      const servicePid = ((await m.status()).services as Svc[])[0]?.pid as number;

      await redis.stop();
      await m.waitForLog((e) => String(e['msg']).startsWith('session store unavailable'), 15_000);
      await new Promise((r) => setTimeout(r, 3_000)); // past the lease TTL, several heartbeats and validations
      const degraded = await m.status();
      expect(degraded['store']).toMatchObject({ up: false });
      expect((degraded['services'] as Svc[])[0]).toMatchObject({ state: 'healthy', pid: servicePid });
      expect(m.child.exitCode).toBeNull();

      const again = await startRedis(redis.port);
      undo.push(() => again.stop());
      await m.waitForLog((e) => e['msg'] === 'session store available again', 20_000);
      // A fresh server lost everything: our session and its service are registered again.
      await waitUntil(
        async () =>
          (await liveSessions(m.env)).some(
            (s) => s.pid === m.child.pid && s.servicePids.includes(servicePid),
          ),
        20_000,
        'the session and its service back in the fleet registry',
      );
      expect((await httpGet(control, '/health')).status).toBe(200);
      const lines = logLines(m);
      expect(lines.filter((e) => String(e['msg']).startsWith('session store unavailable'))).toHaveLength(1);
      expect(lines.filter((e) => e['msg'] === 'session store available again')).toHaveLength(1);
      expect(m.child.exitCode).toBeNull();
      m.child.kill('SIGTERM');
      expect((await m.exited).code).toBe(0);
    },
  );
});
