// `pnpm start` and friends: the manager under a package manager. Ctrl-C (SIGINT
// to the whole foreground job) reaches the manager directly and again,
// forwarded by pnpm; both must make one clean stop, exit 0, so that pnpm
// reports success and no ELIFECYCLE. And when the launcher dies without
// forwarding anything (SIGKILL, or npx's `sh -c` killed by a SIGTERM), the
// manager notices and stops as on SIGTERM instead of running on unowned.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'vitest';
import {
  APP_DIR,
  CLI,
  isAlive,
  killTagged,
  liveSessions,
  NODE_TS,
  portEnv,
  RUN_TAG,
  TEST_TAG_VAR,
  waitUntil,
} from './helpers.js';

// The tests run concurrently (each waits mostly on process start-up), so each
// tags its processes with a tag of its own and kills exactly those when it ends.
let tests = 0;

/**
 * Stands in for pnpm's lifecycle runner (@pnpm/npm-lifecycle): runs the script
 * with `sh -c` and npm_lifecycle_* set, forwards its first SIGINT (a second one
 * becomes SIGTERM) and SIGTERM to it, and reports a failed script as pnpm does.
 */
const PNPM_STAND_IN = `
const { spawn } = require('node:child_process');
const script = process.argv[1];
const child = spawn('sh', ['-c', script], {
  stdio: 'inherit',
  env: { ...process.env, npm_lifecycle_event: 'start', npm_lifecycle_script: script },
});
process.once('SIGINT', () => {
  child.kill('SIGINT');
  process.once('SIGINT', () => child.kill('SIGTERM'));
});
process.once('SIGTERM', () => child.kill('SIGTERM'));
child.on('close', (code, signal) => {
  if (signal) {
    process.stderr.write(' ELIFECYCLE  Command failed with signal "' + signal + '".\\n');
    process.kill(process.pid, signal);
  } else if (code) {
    process.stderr.write(' ELIFECYCLE  Command failed with exit code ' + code + '.\\n');
    process.exit(code);
  }
});
`;

/** A service that takes 300 ms to exit on SIGTERM: a forwarded copy of the signal lands mid-shutdown. */
const SLOW_STOP_SERVICE =
  "process.on('SIGTERM', () => setTimeout(() => process.exit(0), 300));" +
  "require('http').createServer((q, r) => r.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')";

const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

/** The environment of this test run minus what a package manager running it set (npm_lifecycle_*). */
function baseEnv(): Record<string, string | undefined> {
  const env = { ...process.env };
  delete env['npm_lifecycle_event'];
  delete env['npm_lifecycle_script'];
  return env;
}

interface Launch {
  readonly launcher: ChildProcess;
  readonly env: Record<string, string>;
  readonly stderr: () => string;
  readonly logs: () => Record<string, unknown>[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log line that matches. */
  readonly waitForLog: (
    match: (e: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ) => Promise<Record<string, unknown>>;
}

/**
 * Writes a config and a session dir to a temp dir; `launch(command)` runs a
 * launcher as its own process group. Everything goes when the test finishes.
 */
async function setup(onTestFinished: TestContext['onTestFinished']) {
  const tag = `${RUN_TAG}-${++tests}`;
  // Removed through this test's own context: concurrent tests must not rely on "the current test".
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sm-launcher-'));
  onTestFinished(async () => {
    await killTagged(tag);
    rmSync(dir, { recursive: true, force: true });
  });
  const configFile = path.join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      services: [{ name: 'web', command: '{node}', args: ['-e', SLOW_STOP_SERVICE], port: 'main_api' }],
      shutdown: { graceMs: 3_000 },
    }),
  );
  const env: Record<string, string> = {
    CORE_SESSION_DIR: path.join(dir, 'sessions'),
    LOG_LEVEL: 'debug',
    npm_config_update_notifier: 'false',
    ...(await portEnv()),
    [TEST_TAG_VAR]: tag,
  };
  // `cd` first: tsx resolves from the working directory, and pnpm runs a script in its package's.
  const managerCommand = [process.execPath, ...NODE_TS, CLI, 'start', '--config', configFile]
    .map(quote)
    .join(' ');
  const cdApp = `cd ${quote(APP_DIR)} && `;

  const launch = (command: string[], cwd = APP_DIR): Launch => {
    // detached: a process group (and session) of its own, like a job a shell starts for a command line.
    const launcher = spawn(command[0] as string, command.slice(1), {
      cwd,
      detached: true,
      env: { ...baseEnv(), ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    launcher.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const logs = () =>
      err.split('\n').flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      launcher.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const waitForLog = async (match: (e: Record<string, unknown>) => boolean, timeoutMs = 25_000) => {
      await waitUntil(
        () => {
          if (logs().some(match)) return true;
          if (launcher.exitCode !== null || launcher.signalCode !== null)
            throw new Error(
              `the launcher exited (${launcher.exitCode ?? launcher.signalCode}); stderr:\n${err}`,
            );
          return false;
        },
        timeoutMs,
        'a log line',
      );
      return logs().find(match) as Record<string, unknown>;
    };
    return { launcher, env, stderr: () => err, logs, exited, waitForLog };
  };
  return { dir, env, managerCommand, cdApp, launch };
}

/** pnpm to run for real: the one running this test (npm_execpath), else `pnpm` on PATH. */
function findPnpm(): string[] | null {
  const execPath = process.env['npm_execpath'];
  if (execPath !== undefined && /pnpm\.c?js$/.test(execPath)) return [process.execPath, execPath];
  const probe = spawnSync('pnpm', ['--version'], {
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  return probe.status === 0 ? ['pnpm'] : null;
}
const PNPM = findPnpm();

describe.concurrent('under a package manager (real processes)', { timeout: 45_000 }, () => {
  it('the launcher SIGKILLed: the manager notices within seconds and stops its services cleanly, exit 0', async ({
    expect,
    onTestFinished,
  }) => {
    const t = await setup(onTestFinished);
    // `sh -c` between launcher and manager, as npx has: it outlives the launcher and reports the manager's exit.
    const run = t.launch([
      process.execPath,
      '-e',
      PNPM_STAND_IN,
      `${t.cdApp}${t.managerCommand}; echo "manager exited $?" >&2`,
    ]);
    const healthy = await run.waitForLog((e) => e['msg'] === 'all services healthy');
    const managerPid = Number(healthy['pid']);
    const servicePid = Number((await run.waitForLog((e) => e['msg'] === 'service started'))['servicePid']);

    const killedAt = Date.now();
    run.launcher.kill('SIGKILL');
    await waitUntil(() => !isAlive(managerPid), 5_000, 'the manager to stop after its launcher died');
    expect(Date.now() - killedAt).toBeLessThan(4_000);
    await waitUntil(() => run.stderr().includes('manager exited'), 2_000, 'the exit status');
    expect(run.stderr()).toContain('manager exited 0');
    const gone = run.logs().find((e) => String(e['msg']).includes('is gone: shutting down as on SIGTERM'));
    expect(gone?.['launcher'], run.stderr()).toMatchObject({ pid: run.launcher.pid });
    expect(run.logs().map((e) => e['msg'])).toContain('stopped');
    expect(isAlive(servicePid)).toBe(false);
    expect(await liveSessions(t.env)).toEqual([]);
  });

  it.for(['SIGINT', 'SIGTERM'] as const)(
    '%s to the process group of a pnpm-like launch: one clean stop, the launcher exits 0, no ELIFECYCLE',
    async (signal, { expect, onTestFinished }) => {
      const t = await setup(onTestFinished);
      const run = t.launch([process.execPath, '-e', PNPM_STAND_IN, `${t.cdApp}exec ${t.managerCommand}`]);
      await run.waitForLog((e) => e['msg'] === 'all services healthy');
      const servicePid = Number((await run.waitForLog((e) => e['msg'] === 'service started'))['servicePid']);

      process.kill(-(run.launcher.pid as number), signal); // what a terminal's Ctrl-C does, or `kill -- -PGID`
      const { code } = await run.exited;
      expect(code, run.stderr()).toBe(0);
      expect(run.stderr()).not.toContain('ELIFECYCLE');
      const msgs = run.logs().map((e) => String(e['msg']));
      // The copy forwarded by the launcher arrives during the stop and is taken for what it is
      // (logged as "the stop signal again"), or, on a loaded machine, before the manager has run
      // its handler at all, when the kernel merges the two into one pending signal. Never as a
      // second request.
      expect(msgs, run.stderr()).not.toContain('second signal during shutdown: exiting now');
      expect(msgs).toContain('stopped');
      expect(isAlive(servicePid)).toBe(false);
      expect(await liveSessions(t.env)).toEqual([]);
    },
  );

  it.skipIf(PNPM === null && process.env['CI'] !== 'true')(
    'real pnpm: `pnpm start` (exec node … start), SIGINT to its process group: exit 0, no ELIFECYCLE',
    async ({ expect, onTestFinished }) => {
      if (PNPM === null) throw new Error('pnpm not found (neither npm_execpath nor PATH)');
      const t = await setup(onTestFinished);
      writeFileSync(
        path.join(t.dir, 'package.json'),
        JSON.stringify({
          name: 'launcher-test',
          private: true,
          scripts: { start: `${t.cdApp}exec ${t.managerCommand}` },
        }),
      );
      const run = t.launch([...PNPM, 'start'], t.dir);
      await run.waitForLog((e) => e['msg'] === 'all services healthy');
      process.kill(-(run.launcher.pid as number), 'SIGINT');
      const { code } = await run.exited;
      expect(code, run.stderr()).toBe(0);
      expect(run.stderr()).not.toContain('ELIFECYCLE');
      expect(run.logs().map((e) => e['msg'])).toContain('stopped');
      expect(await liveSessions(t.env)).toEqual([]);
    },
  );

  it('started directly (no npm_lifecycle_event): the parent is not watched', async ({
    expect,
    onTestFinished,
  }) => {
    const t = await setup(onTestFinished);
    // A plain parent (no package script): it spawns the manager and is SIGKILLed.
    const parent = `require('node:child_process').spawn('sh', ['-c', process.argv[1]], { stdio: 'inherit' })`;
    const run = t.launch([process.execPath, '-e', parent, t.managerCommand]);
    const healthy = await run.waitForLog((e) => e['msg'] === 'all services healthy');
    run.launcher.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // two and a half poll periods
    expect(isAlive(Number(healthy['pid']))).toBe(true);
    expect(run.stderr()).not.toContain('is gone');
  });
});
