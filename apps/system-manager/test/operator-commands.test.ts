// The operator's commands against a real running manager, from a second
// process (the CLI), through the manager's control socket: restart, stop,
// start, signal, reload, describe, logs (-n, -f); refused for another user;
// the socket's place checked before anything starts.
import { spawn } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceStatus } from '../src/index.js';
import {
  APP_DIR,
  CLI,
  isAlive,
  killTagged,
  type ManagerUnderTest,
  misbehaving,
  NODE_TS,
  run,
  runToEnd,
  runtimeDir,
  startManager,
  tagEnv,
  tempDir,
  waitUntil,
} from './helpers.js';

afterEach(async () => {
  await killTagged();
});

const SERVICES = {
  services: [misbehaving('api', 'tick,usr1-report'), misbehaving('web', 'tick', { port: 'frontend' })],
  intervals: { healthMs: 100, healthIdleMs: 100 },
};

async function serviceOf(m: ManagerUnderTest, name: string): Promise<ServiceStatus> {
  return (await m.status()).services.find((s) => s.name === name) as ServiceStatus;
}

async function stopManager(m: ManagerUnderTest): Promise<void> {
  m.child.kill('SIGTERM');
  expect((await m.exited).code).toBe(0);
}

describe('operator commands through the control socket', { timeout: 90_000 }, () => {
  it('restart, stop, start, signal, describe and logs act on one service from another process', async () => {
    const m = await startManager(SERVICES);
    await m.ready();
    const sockets = readdirSync(runtimeDir).filter((f) => f.endsWith('.sock'));
    expect(sockets).toHaveLength(1);
    expect(lstatSync(path.join(runtimeDir, sockets[0] as string)).mode & 0o777).toBe(0o600);
    const web = await serviceOf(m, 'web');

    // restart: a new process, counted with its reason; the other service untouched.
    const first = await serviceOf(m, 'api');
    const restarted = await runToEnd(['restart', 'api', '--json'], m.env);
    expect(restarted.code, restarted.stderr).toBe(0);
    expect(JSON.parse(restarted.stdout)).toEqual([{ service: 'api', outcome: 'restarted' }]);
    const second = await serviceOf(m, 'api');
    expect(second.pid).not.toBe(first.pid);
    expect(second.restarts).toBe(first.restarts + 1);
    expect(isAlive(first.pid as number)).toBe(false);
    expect((await serviceOf(m, 'web')).pid).toBe(web.pid);

    // stop: stays stopped across health checks and the restart policy; status says who stopped it.
    const stopped = await runToEnd(['stop', 'api'], m.env);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toBe('api: stopped\n');
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // ten health intervals
    const held = await serviceOf(m, 'api');
    expect(held).toMatchObject({ state: 'stopped', pid: null, restarts: second.restarts });
    expect(held.stoppedBy?.user).toBe(os.userInfo().username);
    expect(isAlive(second.pid as number)).toBe(false);
    expect((await runToEnd(['stop', 'api'], m.env)).stdout).toBe('api: already stopped\n');
    const listed = await runToEnd(['status'], m.env);
    expect(listed.stdout).toMatch(
      new RegExp(`^\\S+\\s+api\\s+stopped \\(by ${os.userInfo().username}\\)`, 'm'),
    );

    // start: running and healthy again, no longer "stopped by".
    const started = await runToEnd(['start', 'api'], m.env);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toBe('api: started\n');
    const third = await serviceOf(m, 'api');
    expect(third).toMatchObject({ state: 'healthy', stoppedBy: null });
    expect(isAlive(third.pid as number)).toBe(true);

    // signal: delivered to the service's own process.
    const signalled = await runToEnd(['signal', 'USR1', 'api'], m.env);
    expect(signalled.code, signalled.stderr).toBe(0);
    expect(signalled.stdout).toBe(`sent SIGUSR1 to api (pid ${third.pid})\n`);
    await waitUntil(
      async () => (await runToEnd(['logs', 'api', '-n', '100'], m.env)).stdout.includes('got SIGUSR1\n'),
      10_000,
      'the signal to show in the logs',
    );

    // describe: the restarts with their reasons, the health history, the definition.
    const described = await runToEnd(['describe', 'api', '--json'], m.env);
    expect(described.code, described.stderr).toBe(0);
    const d = JSON.parse(described.stdout);
    expect(d.restartHistory.map((r: { reason: string }) => r.reason)).toEqual(['operator', 'started']);
    expect(d.restartHistory[0].by.user).toBe(os.userInfo().username);
    expect(d.healthHistory.length).toBeGreaterThan(0);
    expect(d).toMatchObject({
      name: 'api',
      pid: third.pid,
      portName: 'main_api',
      definition: { restart: 'on-failure' },
    });
    expect(d.definition.env).toEqual(['MODE']); // names only: values may be secrets
    // Where its output goes, and by whom (s6-log processes when it is on PATH, as in CI).
    const text = await runToEnd(['describe', 'api'], m.env);
    expect(text.stdout).toMatch(
      d.logs.writer === 's6-log'
        ? /^output: +\/.*\/api\/\{stdout,stderr\} written by s6-log \(stdout pid \d+, 0 restarts; stderr pid \d+, 0 restarts\)$/m
        : /^output: +\/.*\/api\.log written by the manager$/m,
    );

    // logs without a name: every service, each line prefixed.
    const all = await runToEnd(['logs', '-n', '5'], m.env);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^api \| tick \d+$/m);
    expect(all.stdout).toMatch(/^web \| tick \d+$/m);

    // logs -f: new lines as they come, until Ctrl-C; exit 0.
    const follow = run(['logs', 'web', '-n', '0', '-f'], m.env);
    await waitUntil(
      () => (follow.stdout().match(/^tick \d+$/gm) ?? []).length >= 3,
      10_000,
      'three followed lines',
    );
    follow.child.kill('SIGINT');
    expect((await follow.exited).code).toBe(0);

    // An unknown name: refused, nothing done.
    const before = await serviceOf(m, 'web');
    const unknown = await runToEnd(['restart', 'web', 'nope'], m.env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no service named "nope"');
    expect((await serviceOf(m, 'web')).pid).toBe(before.pid);
    await stopManager(m);
    expect(readdirSync(runtimeDir).filter((f) => f.endsWith('.sock'))).toEqual([]);
  });

  it('reload through the socket answers with what changed', async () => {
    const m = await startManager(SERVICES);
    await m.ready();
    m.writeConfig({
      ...SERVICES,
      services: [misbehaving('api', 'tick,usr1-report', { env: { SERVICE_VERSION: '2' } })],
    });
    const reloaded = await runToEnd(['reload', '--json'], m.env);
    expect(reloaded.code, reloaded.stderr).toBe(0);
    expect(JSON.parse(reloaded.stdout)).toMatchObject({ restarted: ['api'], stopped: ['web'], started: [] });
    expect((await m.status()).services.map((s) => s.name)).toEqual(['api']);
    // A broken file: refused, the running config stays.
    m.writeConfig({ services: 'nope' });
    const refused = await runToEnd(['reload'], m.env);
    expect(refused.code).toBe(78);
    expect(refused.stderr).toContain('services');
    expect((await m.status()).services.map((s) => s.name)).toEqual(['api']);
    await stopManager(m);
  });

  it('another user cannot control the manager: exit 77, nothing done', async () => {
    if (process.getuid?.() !== 0) return expect(process.getuid?.()).not.toBe(0); // needs root to act as another uid
    const m = await startManager(SERVICES);
    await m.ready();
    const api = await serviceOf(m, 'api');
    const session = (readdirSync(runtimeDir).find((f) => f.endsWith('.sock')) as string).slice(0, -5);
    // tsx keeps a cache in the temp dir: one that user may write to, removed with the test's.
    const scratch = tempDir('sm-nobody-');
    chmodSync(scratch.dir, 0o755);
    const nobodyTmp = path.join(scratch.dir, 'tmp');
    mkdirSync(nobodyTmp);
    chmodSync(nobodyTmp, 0o777);
    const asNobody = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [...NODE_TS, CLI, ...args], {
          cwd: APP_DIR,
          uid: 65534,
          gid: 65534,
          env: { ...process.env, ...m.env, HOME: '/', TMPDIR: nobodyTmp, LOG_LEVEL: 'silent', ...tagEnv() },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => {
          stderr += c.toString();
        });
        child.on('exit', (code) => resolve({ code, stderr }));
      });
    // The directory is private (0700): not even listed.
    const listing = await asNobody(['restart', 'api']);
    expect(listing.code, listing.stderr).toBe(77);
    // The directory open to all (as the unit's /run/system-manager, 0755): the socket's own 0600 refuses.
    chmodSync(runtimeDir, 0o755);
    try {
      const direct = await asNobody(['stop', 'api', '--session', session]);
      expect(direct.code, direct.stderr).toBe(77);
      expect(direct.stderr).toContain('permission denied');
    } finally {
      chmodSync(runtimeDir, 0o700);
    }
    expect(await serviceOf(m, 'api')).toMatchObject({
      pid: api.pid,
      restarts: api.restarts,
      state: 'healthy',
    });
    await stopManager(m);
  });

  it('refuses to start when the socket directory is a symlink or writable by others; exit 69 with no manager', async () => {
    const tmp = tempDir('sm-socket-place-');
    const real = path.join(tmp.dir, 'real');
    mkdirSync(real, { mode: 0o700 });
    const link = path.join(tmp.dir, 'link');
    symlinkSync(real, link);
    const open = path.join(tmp.dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    for (const [dir, why] of [
      [link, 'is a symlink'],
      [open, 'writable by others'],
    ] as const) {
      const m = await startManager(SERVICES, { SYSTEM_MANAGER_RUNTIME_DIR: dir });
      const { code } = await m.exited;
      expect(code).toBe(1);
      expect(m.stderr()).toContain(why);
      // Nothing was started: no service of it runs.
      expect(m.stderr()).not.toContain('service started');
    }
    const none = await runToEnd(['restart', 'api'], { SYSTEM_MANAGER_RUNTIME_DIR: real });
    expect(none.code).toBe(69);
    expect(none.stderr).toContain('no manager is running');
  });
});
