// `control.socketGroup`: the control socket opened to one group. Members of
// it (another uid, the group as a supplementary group, via setpriv) can
// control the manager; another user outside it is refused and nothing is
// done. An unknown group is a config error (exit 78) naming the field.
import { spawn } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceStatus } from '../src/index.js';
import {
  APP_DIR,
  CLI,
  killTagged,
  type ManagerUnderTest,
  misbehaving,
  NODE_TS,
  runToEnd,
  startManager,
  tagEnv,
  tempDir,
} from './helpers.js';

afterEach(async () => {
  await killTagged();
});

/** A gid no group of this machine has (the socket's group needs no entry in /etc/group when given as a number). */
const GROUP = 64_123;
const NOBODY = 65_534;

const config = (socketGroup: string | number) => ({
  services: [misbehaving('api', 'tick'), misbehaving('web', 'tick', { port: 'frontend' })],
  intervals: { healthMs: 100, healthIdleMs: 100 },
  control: { socketGroup },
});

async function serviceOf(m: ManagerUnderTest, name: string): Promise<ServiceStatus> {
  return (await m.status()).services.find((s) => s.name === name) as ServiceStatus;
}

describe('the control socket shared with a group', { timeout: 90_000 }, () => {
  it('a member of the group may restart and describe through it; a user outside it gets exit 77 and nothing is done', async () => {
    if (process.getuid?.() !== 0) return expect(process.getuid?.()).not.toBe(0); // acting as other users needs root
    // A directory others may pass through, holding the runtime dir the manager creates.
    const scratch = tempDir('sm-group-');
    chmodSync(scratch.dir, 0o755);
    const runtime = path.join(scratch.dir, 'run');
    // tsx keeps a cache in the temp dir: one that user may write to.
    const userTmp = path.join(scratch.dir, 'tmp');
    mkdirSync(userTmp);
    chmodSync(userTmp, 0o777);
    const m = await startManager(config(GROUP), { SYSTEM_MANAGER_RUNTIME_DIR: runtime });
    await m.ready();
    const socket = path.join(runtime, readdirSync(runtime).find((f) => f.endsWith('.sock')) as string);
    expect(lstatSync(runtime)).toMatchObject({ uid: 0, gid: GROUP });
    expect(lstatSync(runtime).mode & 0o777).toBe(0o750);
    expect(lstatSync(socket)).toMatchObject({ uid: 0, gid: GROUP });
    expect(lstatSync(socket).mode & 0o777).toBe(0o660);

    const asUser = (groups: string, args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(
          'setpriv',
          [
            `--reuid=${NOBODY}`,
            `--regid=${NOBODY}`,
            ...(groups === '' ? ['--clear-groups'] : [`--groups=${groups}`]),
            '--',
            process.execPath,
            ...NODE_TS,
            CLI,
            ...args,
          ],
          {
            cwd: APP_DIR,
            env: { ...process.env, ...m.env, HOME: '/', TMPDIR: userTmp, LOG_LEVEL: 'silent', ...tagEnv() },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
        });
        child.stderr.on('data', (c: Buffer) => {
          stderr += c.toString();
        });
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
      });

    // A member (the group as a supplementary group, as `usermod -aG` gives it).
    const api = await serviceOf(m, 'api');
    const restarted = await asUser(String(GROUP), ['restart', 'api', '--json']);
    expect(restarted.code, restarted.stderr).toBe(0);
    expect(JSON.parse(restarted.stdout)).toEqual([{ service: 'api', outcome: 'restarted' }]);
    const after = await serviceOf(m, 'api');
    expect(after.pid).not.toBe(api.pid);
    const described = await asUser(String(GROUP), ['describe', 'api', '--json']);
    expect(described.code, described.stderr).toBe(0);
    expect(JSON.parse(described.stdout)).toMatchObject({ name: 'api', pid: after.pid });

    // Not a member: refused, with the reason; nothing done.
    const web = await serviceOf(m, 'web');
    const outsider = await asUser('', ['stop', 'web']);
    expect(outsider.code, outsider.stderr).toBe(77);
    expect(outsider.stderr).toMatch(/cannot read .*permission denied|permission denied/);
    const direct = await asUser('', ['stop', 'web', '--session', path.basename(socket, '.sock')]);
    expect(direct.code, direct.stderr).toBe(77);
    expect(await serviceOf(m, 'web')).toMatchObject({ pid: web.pid, state: 'healthy' });

    m.child.kill('SIGTERM');
    expect((await m.exited).code).toBe(0);
  });

  it('an unknown group is a config error: exit 78 naming control.socketGroup, for config check and start', async () => {
    const dir = tempDir('sm-group-config-');
    const file = path.join(dir.dir, 'config.json');
    writeFileSync(file, JSON.stringify(config('no-such-group-sm')));
    const check = await runToEnd(['config', 'check', '--config', file], {});
    expect(check.code).toBe(78);
    expect(check.stderr).toContain('control.socketGroup: no group named "no-such-group-sm"');
    const m = await startManager(config('no-such-group-sm'));
    expect((await m.exited).code).toBe(78);
    expect(m.stderr()).toContain('control.socketGroup');
    expect(m.stderr()).not.toContain('service started');
    // Not a group name at all: the schema says what is expected.
    writeFileSync(file, JSON.stringify(config('bad name!')));
    const bad = await runToEnd(['config', 'check', '--config', file], {});
    expect(bad.code).toBe(78);
    expect(bad.stderr).toContain('control.socketGroup');
  });
});
