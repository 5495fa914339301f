// SIGHUP reloads the config like `pm2 reload`: changed services restarted one
// at a time, removed ones stopped, new ones started, unchanged ones untouched;
// an invalid file is refused naming the field and the running config stays.
// Attached to a terminal, SIGHUP (the terminal closing) still stops the manager.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceStatus } from '../src/index.js';
import {
  CLI,
  freePort,
  httpGet,
  isAlive,
  killTagged,
  liveSessions,
  logLines,
  type ManagerUnderTest,
  misbehaving,
  NODE_TS,
  startManager,
  tagEnv,
  taggedPids,
  waitUntil,
} from './helpers.js';

const managers: ManagerUnderTest[] = [];
afterEach(async () => {
  await killTagged();
  for (const m of managers.splice(0)) m.remove();
});

/** Every session record file under `dir`, concatenated (the port reservations are in them). */
function sessionRecordText(dir: string): string {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .map((f) => readFileSync(path.join(dir, f), 'utf8'))
    .join('\n');
}

type Svc = ServiceStatus;
const byName = async (m: ManagerUnderTest) =>
  Object.fromEntries(((await m.status()).services as Svc[]).map((s) => [s.name, s])) as Record<string, Svc>;

const base = {
  shutdown: { graceMs: 2_000 },
  // Ports are bound at start: the port a reload gives to a new service is named (and reserved) from the start.
  ports: { llama_cpp: 8080 },
  services: [
    misbehaving('keep', '', { port: 'main_api' }),
    misbehaving('change', '', { port: 'frontend', env: { SERVICE_VERSION: '1' } }),
    misbehaving('gone', '', { port: 'websocket_router' }),
  ],
};

describe('SIGHUP reload (real processes)', { timeout: 60_000 }, () => {
  it('a new service on a new named port: the port is resolved (fallbacks as at start) and reserved; removed, it is released', async () => {
    const m = await startManager({ shutdown: { graceMs: 2_000 }, services: [misbehaving('keep', '')] });
    managers.push(m);
    await m.ready();
    // The new name's configured port is busy: the reload must move it to its fallback, as a start would.
    const [busy, fallback] = [await freePort(), await freePort()];
    const holder = net.createServer().listen(busy, '127.0.0.1');
    await once(holder, 'listening');
    try {
      m.writeConfig({
        shutdown: { graceMs: 2_000 },
        ports: { metrics_api: busy },
        fallbacks: { metrics_api: [fallback] },
        services: [misbehaving('keep', ''), misbehaving('added', '', { port: 'metrics_api' })],
      });
      m.child.kill('SIGHUP');
      const reloaded = await m.waitForLog((e) => e['msg'] === 'config reloaded');
      expect(reloaded).toMatchObject({
        started: ['added'],
        unchanged: ['keep'],
        portsAdded: ['metrics_api'],
        needsRestart: [],
      });
      const status = await m.status();
      expect(status.ports['metrics_api']).toBe(fallback);
      expect(status.services.find((s) => s.name === 'added')).toMatchObject({
        port: fallback,
        state: 'healthy',
      });
      // Reserved in the session, like the ports of the start.
      const recorded = () => sessionRecordText(m.env['CORE_SESSION_DIR'] as string);
      expect(recorded()).toContain(`"127.0.0.1:${fallback}"`);

      m.writeConfig({ shutdown: { graceMs: 2_000 }, services: [misbehaving('keep', '')] });
      m.child.kill('SIGHUP');
      const removed = await m.waitForLog(
        (e) => e['msg'] === 'config reloaded' && (e['stopped'] as string[]).length > 0,
      );
      expect(removed).toMatchObject({ stopped: ['added'], portsReleased: ['metrics_api'] });
      expect((await m.status()).ports['metrics_api']).toBeUndefined();
      expect(recorded()).not.toContain(`"127.0.0.1:${fallback}"`);
    } finally {
      holder.close();
    }
    m.child.kill('SIGTERM');
    expect((await m.exited).code).toBe(0);
  });

  it('restarts changed services, stops removed ones, starts new ones, leaves unchanged ones alone', async () => {
    const m = await startManager(base);
    managers.push(m);
    await m.ready();
    const before = await byName(m);

    m.writeConfig({
      ...base,
      services: [
        misbehaving('keep', '', { port: 'main_api' }),
        misbehaving('change', '', { port: 'frontend', env: { SERVICE_VERSION: '2' } }),
        misbehaving('added', '', { port: 'llama_cpp' }),
      ],
    });
    m.child.kill('SIGHUP');
    const reloaded = await m.waitForLog((e) => e['msg'] === 'config reloaded');
    expect(reloaded).toMatchObject({
      unchanged: ['keep'],
      restarted: ['change'],
      stopped: ['gone'],
      started: ['added'],
      unhealthy: [],
    });
    const after = await byName(m);
    expect(Object.keys(after).sort()).toEqual(['added', 'change', 'keep']);
    expect(after['keep']?.pid).toBe(before['keep']?.pid);
    expect(after['change']?.pid).not.toBe(before['change']?.pid);
    // Counters survive the reload: the replacement is one more restart, not a fresh count.
    expect(after['change']?.restarts).toBe((before['change']?.restarts as number) + 1);
    expect(after['keep']?.restarts).toBe(before['keep']?.restarts);
    const metrics = (await httpGet(await m.ready(), '/metrics')).body;
    expect(metrics).toContain(
      `system_manager_service_restarts_total{service="change"} ${(before['change']?.restarts as number) + 1}\n`,
    );
    expect(JSON.parse((await httpGet(after['change']?.port as number, '/health')).body).version).toBe('2');
    expect(after['added']).toMatchObject({ state: 'healthy' });
    expect(isAlive(before['gone']?.pid as number)).toBe(false);
    expect(isAlive(before['change']?.pid as number)).toBe(false);
    expect(m.child.exitCode).toBeNull();
    // The session lists exactly the running processes.
    const expected = JSON.stringify(
      Object.values(after)
        .map((s) => s.pid)
        .sort(),
    );
    await waitUntil(
      async () => JSON.stringify((await liveSessions(m.env))[0]?.servicePids.sort()) === expected,
      10_000,
      'the session to list the reloaded services',
    );
  });

  it('an invalid config is refused with the field named; nothing is touched and the manager keeps running', async () => {
    const m = await startManager(base);
    managers.push(m);
    await m.ready();
    const before = await byName(m);

    m.writeConfig({ ...base, services: [{ ...base.services[0], startTimeoutMs: 'soon' }] });
    m.child.kill('SIGHUP');
    const refused = await m.waitForLog((e) => e['msg'] === 'reload refused: the running config stays');
    expect(String(refused['err'])).toContain('services.0.startTimeoutMs');

    m.writeConfig({ ...base, services: [misbehaving('keep', '', { port: 'no_such_port' })] });
    m.child.kill('SIGHUP');
    await waitUntil(
      () => logLines(m).filter((e) => e['msg'] === 'reload refused: the running config stays').length === 2,
      10_000,
      'the second refusal',
    );
    expect(m.stderr()).toContain('services.0.port: no port named \\"no_such_port\\"');
    const after = await byName(m);
    for (const name of ['keep', 'change', 'gone']) expect(after[name]?.pid, name).toBe(before[name]?.pid);
    expect(m.child.exitCode).toBeNull();
  });

  it('a new definition that never becomes healthy stops the rollout and is left to its restart policy', async () => {
    const config = { ...base, supervision: { onServiceFailed: 'keep-running' } };
    const m = await startManager(config);
    managers.push(m);
    await m.ready();
    const before = await byName(m);
    m.writeConfig({
      ...config,
      services: [
        misbehaving('keep', '', { port: 'main_api' }),
        misbehaving('change', 'exit-at-once', {
          port: 'frontend',
          maxRestarts: 1,
          backoff: { initialMs: 50 },
        }),
        misbehaving('gone', '', { port: 'websocket_router', env: { SERVICE_VERSION: '2' } }),
      ],
    });
    m.child.kill('SIGHUP');
    const reloaded = await m.waitForLog((e) => e['msg'] === 'config reloaded');
    expect(reloaded).toMatchObject({ unchanged: ['keep'], unhealthy: ['change'], restarted: [] });
    // The rollout stopped at "change": "gone" still runs its old definition.
    expect((await byName(m))['gone']?.pid).toBe(before['gone']?.pid);
    await m.waitForLog((e) => e['msg'] === 'restarting change in 50 ms');
    await m.waitForLog((e) => String(e['msg']).startsWith('service change failed'));
    // Two restarts: the reload's replacement, then the policy's one (its budget of 1 counts crashes only).
    expect((await byName(m))['change']).toMatchObject({ state: 'failed', restarts: 2 });
    expect(m.child.exitCode).toBeNull();
  });

  it('attached to a terminal, SIGHUP stops the manager (exit 0) instead of reloading', async () => {
    const m = await startManager({ services: [misbehaving('svc', '')] });
    managers.push(m);
    m.child.kill('SIGKILL'); // only its config, env and dir are used: run it again under a pseudo-terminal
    await m.exited;
    // `exec`: script runs the command through $SHELL, and dash (CI's /bin/sh)
    // stays as the parent of a `-c` command, so without it the shell would be
    // the process that gets the SIGHUP.
    const command = `exec ${[process.execPath, ...NODE_TS, CLI, 'start', '--config', m.configFile]
      .map((a) => `'${a}'`)
      .join(' ')}`;
    const inTerminal = spawn('script', ['-qefc', command, '/dev/null'], {
      env: { ...process.env, ...m.env, ...tagEnv(), SHELL: '/bin/sh' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    inTerminal.stdout?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => inTerminal.once('exit', (code) => resolve(code)));
    await waitUntil(() => output.includes('all services healthy'), 20_000, 'start under a terminal');
    // The manager is the node process running cli.ts (not script, not a shell).
    const node = realpathSync(process.execPath);
    const managerPid = taggedPids().find((pid) => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
        return (
          readlinkSync(`/proc/${pid}/exe`) === node &&
          cmdline.includes('cli.ts') &&
          cmdline.includes('\0start\0')
        );
      } catch {
        return false;
      }
    });
    expect(managerPid).toBeDefined();
    process.kill(managerPid as number, 'SIGHUP');
    expect(await exited).toBe(0);
    expect(output).toContain('shutting down');
    expect(output).not.toContain('reloading');
  });
});
