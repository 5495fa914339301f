// The built manager (plain node, as installed) at a low descriptor limit,
// set with prlimit: it starts at nofile 64; at nofile 128, 100 idle
// connections to the control port neither keep /health out nor keep their
// descriptors once closed, and clients that never read nor close are
// destroyed on the server's side; a service spawn that fails with EMFILE is
// retried with backoff, logged and counted, and uses up no restart.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceStatus } from '../src/index.js';
import { APP_DIR, httpGet, killTagged, misbehaving, portEnv, tagEnv, tempDir, waitUntil } from './helpers.js';

const BIN = path.join(APP_DIR, 'dist', 'cli.js');
const clients: net.Socket[] = [];
afterEach(async () => {
  for (const socket of clients.splice(0)) socket.destroy();
  await killTagged();
});

interface LimitedManager {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly control: number;
  readonly logs: () => Record<string, unknown>[];
  readonly exited: Promise<number | null>;
}

/** `system-manager start` of the built CLI under `prlimit --nofile=<nofile>`, once it logged "all services healthy". */
async function startLimited(nofile: number, config: Record<string, unknown>): Promise<LimitedManager> {
  expect(existsSync(BIN), 'dist/cli.js: `pnpm test` builds the app first').toBe(true);
  const tmp = tempDir('sm-fdlimit-');
  const configFile = path.join(tmp.dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config));
  // Run as systemd runs it: not through a package script (vitest under pnpm or npx is one), so it does
  // not watch its launcher, whose /proc entry it cannot read while it is out of descriptors.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('npm_')));
  // prlimit execs node: the pid is the manager's, and the limit is there from its first instruction.
  const child = spawn(
    'prlimit',
    [`--nofile=${nofile}:${nofile}`, '--', process.execPath, BIN, 'start', '--config', configFile],
    {
      cwd: APP_DIR,
      env: {
        ...env,
        LOG_LEVEL: 'info',
        CORE_SESSION_DIR: path.join(tmp.dir, 'sessions'),
        ...(await portEnv()),
        ...tagEnv(),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const logs = () =>
    stderr.split('\n').flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  const ready = () => logs().find((e) => e['msg'] === 'all services healthy');
  await waitUntil(() => ready() !== undefined || child.exitCode !== null, 20_000, 'all services healthy');
  const line = ready();
  if (line === undefined)
    throw new Error(`manager exited (${child.exitCode}) before it was ready:\n${stderr}`);
  return {
    child,
    pid: child.pid as number,
    control: Number(String(line['control']).split(':').pop()),
    logs,
    exited,
  };
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The manager's descriptors at rest: the fewest of a few samples (a health probe may hold one for a moment). */
async function restingFds(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 8; i++) {
    samples.push(openFds(pid));
    await new Promise((r) => setTimeout(r, 50));
  }
  return Math.min(...samples);
}

/** GET /health on a connection of its own (no agent, no keep-alive to reuse): status and milliseconds. */
function timedHealth(port: number): Promise<{ status: number; ms: number }> {
  const began = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/health', agent: false, timeout: 5_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - began }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('/health did not answer within 5 s')));
    req.on('error', reject);
  });
}

/** Opens `count` connections to `port`; each sends `first` (nothing when empty) and never reads. */
async function holdConnections(
  port: number,
  count: number,
  first = '',
): Promise<{ closedByServer: () => number }> {
  let closed = 0;
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve) => {
          const socket = net.connect(port, '127.0.0.1', () => {
            if (first) socket.write(first);
            resolve();
          });
          socket.on('error', () => resolve());
          socket.on('close', () => {
            closed += 1;
          });
          clients.push(socket);
        }),
    ),
  );
  return { closedByServer: () => closed };
}

const config = { services: [misbehaving('svc', '')], shutdown: { graceMs: 2_000 } };

describe('the manager at its descriptor limit (built CLI under prlimit)', { timeout: 60_000 }, () => {
  it('starts and answers /health at nofile 64', async () => {
    const m = await startLimited(64, config);
    expect(readFileSync(`/proc/${m.pid}/limits`, 'utf8')).toMatch(/^Max open files\s+64\s+64\s/m);
    expect((await timedHealth(m.control)).status).toBe(200);
    expect(openFds(m.pid)).toBeLessThan(48);
    m.child.kill('SIGTERM');
    expect(await m.exited).toBe(0);
  });

  it('nofile 128: with 100 idle connections held open /health answers within 1 s, and the descriptors come back once they close', async ({
    annotate,
  }) => {
    const m = await startLimited(128, config);
    expect((await timedHealth(m.control)).status).toBe(200);
    const baseline = await restingFds(m.pid);

    const held = await holdConnections(m.control, 100);
    // The endpoint keeps half of the descriptors free when it started (give or take its own listener),
    // and made room for the rest by destroying the oldest idle connections…
    const cap = Math.floor((128 - baseline) / 2) + 1;
    await waitUntil(
      () => held.closedByServer() >= 100 - cap - 1,
      5_000,
      'the oldest connections made room for',
    );
    const whileHeld = openFds(m.pid);
    // …so the descriptors it holds stay well inside the limit.
    expect(whileHeld).toBeLessThanOrEqual(baseline + cap + 1);
    for (let i = 0; i < 3; i++) {
      const health = await timedHealth(m.control);
      expect(health.status).toBe(200);
      expect(health.ms).toBeLessThan(1_000);
    }

    for (const socket of clients.splice(0)) socket.destroy();
    await waitUntil(() => openFds(m.pid) <= baseline, 5_000, `fds back to ${baseline}`);
    expect((await timedHealth(m.control)).status).toBe(200);
    await annotate(`fds at rest ${baseline}, with 100 idle clients ${whileHeld}, after ${openFds(m.pid)}`);
    m.child.kill('SIGTERM');
    expect(await m.exited).toBe(0);
  });

  it('clients that send half a request and never read nor close are destroyed on the server side, not just sent a FIN', async () => {
    const m = await startLimited(128, config);
    expect((await timedHealth(m.control)).status).toBe(200);
    const baseline = await restingFds(m.pid);
    await holdConnections(m.control, 100, 'GET /health HT');
    await new Promise((r) => setTimeout(r, 200));
    expect(openFds(m.pid)).toBeGreaterThan(baseline + 10);
    // The header timeout (5 s, checked every second) ends them while the clients neither read the
    // answer nor close: only a destroyed socket gives its descriptor back then, an ended one waits
    // for the client's FIN.
    await waitUntil(
      () => openFds(m.pid) <= baseline,
      9_000,
      `fds back to ${baseline}, the clients still open`,
    );
    expect((await timedHealth(m.control)).status).toBe(200);
    m.child.kill('SIGTERM');
    expect(await m.exited).toBe(0);
  });

  it('a restart whose spawn fails with EMFILE is retried with backoff, logged and counted, and uses up no restart', async () => {
    const m = await startLimited(128, {
      ...config,
      services: [misbehaving('svc', '', { maxRestarts: 1, backoff: { initialMs: 100 } })],
      intervals: { validateMs: 600_000 },
    });
    const status = async () =>
      (JSON.parse((await httpGet(m.control, '/status')).body) as { services: ServiceStatus[] }).services[0];
    const before = await status();
    expect(before).toMatchObject({ state: 'healthy', restarts: 0, spawnResourceErrors: 0 });

    // No descriptor number is free below a soft limit of 3: every open, pipe or socket of the manager
    // fails with EMFILE until it is raised again. Nothing talks to it meanwhile.
    execFileSync('prlimit', ['--pid', String(m.pid), '--nofile=3:128']);
    try {
      process.kill(before?.pid as number, 'SIGKILL');
      await waitUntil(
        () => m.logs().filter((e) => String(e['msg']).startsWith('cannot spawn svc: EMFILE')).length >= 4,
        10_000,
        'four failed spawns',
      );
    } finally {
      execFileSync('prlimit', ['--pid', String(m.pid), '--nofile=128:128']);
    }

    await waitUntil(
      () => m.logs().some((e) => e['msg'] === 'service svc answering again'),
      10_000,
      'svc answering again',
    );
    const failures = m.logs().filter((e) => String(e['msg']).startsWith('cannot spawn svc: EMFILE'));
    expect(failures.map((e) => [e['errno'], e['delayMs']]).slice(0, 4)).toEqual([
      ['EMFILE', 100],
      ['EMFILE', 200],
      ['EMFILE', 400],
      ['EMFILE', 800],
    ]);
    expect(failures.every((e) => e['level'] === 40)).toBe(true);
    const after = await status();
    // maxRestarts is 1: had each failed spawn counted as a crash, the service would be failed and the manager gone.
    expect(after).toMatchObject({
      state: 'healthy',
      restarts: 1,
      spawnResourceErrors: failures.length,
      lastExit: { signal: 'SIGKILL' },
    });
    expect(after?.pid).not.toBe(before?.pid);
    expect((await httpGet(m.control, '/metrics')).body).toContain(
      `system_manager_service_spawn_resource_errors_total{service="svc"} ${failures.length}\n`,
    );
    expect(m.child.exitCode).toBeNull();
    m.child.kill('SIGTERM');
    expect(await m.exited).toBe(0);
  });

  it('SIGTERM while a spawn waits out its resource backoff: exit 0 at once, no service started', async () => {
    const m = await startLimited(128, { ...config, intervals: { validateMs: 600_000 } });
    const status = JSON.parse((await httpGet(m.control, '/status')).body) as { services: ServiceStatus[] };
    const failed = () => m.logs().filter((e) => String(e['msg']).startsWith('cannot spawn svc: EMFILE'));
    execFileSync('prlimit', ['--pid', String(m.pid), '--nofile=3:128']);
    try {
      process.kill(status.services[0]?.pid as number, 'SIGKILL');
      // The fifth failure waits 1.6 s: the stop comes in the middle of it.
      await waitUntil(() => failed().length >= 5, 10_000, 'five failed spawns');
    } finally {
      execFileSync('prlimit', ['--pid', String(m.pid), '--nofile=128:128']);
    }
    const stoppedAt = Date.now();
    m.child.kill('SIGTERM');
    expect(await m.exited).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(1_500);
    const started = m.logs().filter((e) => e['msg'] === 'service started');
    expect(started).toHaveLength(1);
    expect(m.logs().filter((e) => Number(e['level']) >= 50 && e['msg'] !== 'service exited')).toEqual([]);
  });
});
