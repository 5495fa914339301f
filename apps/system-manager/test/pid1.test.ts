// The manager as PID 1 of a new pid namespace (`unshare --pid --fork
// --mount-proc`, as a container's entrypoint), with a service whose
// grandchildren are orphaned and exit every 100 ms: under tini (found on PATH)
// they are reaped and a SIGTERM from outside stops everything cleanly; without
// tini the start log and `doctor` say so, and the zombies pile up. The
// namespace's processes are read from this side's /proc: its PID 1 and every
// process below it (orphans are re-parented inside the namespace, never out).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { findReaper, NO_REAPER_MESSAGE } from '../src/init-process.js';
import {
  APP_DIR,
  CLI,
  FIXTURES,
  isAlive,
  killTagged,
  NODE_TS,
  portEnv,
  tagEnv,
  taggedPids,
  tempDir,
  waitUntil,
} from './helpers.js';

// util-linux: unshare makes the namespace, nsenter runs `doctor` inside it.
const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'].find((file) => existsSync(file)) ?? null;
const NSENTER = ['/usr/bin/nsenter', '/bin/nsenter'].find((file) => existsSync(file)) ?? null;
const NAMESPACE = ['--pid', '--fork', '--mount-proc'];
/** A new pid namespace needs CAP_SYS_ADMIN (root, as in CI's container). */
const CAN_UNSHARE =
  UNSHARE !== null &&
  NSENTER !== null &&
  spawnSync(UNSHARE, [...NAMESPACE, '/bin/true'], { stdio: 'ignore' }).status === 0;
const TINI = findReaper(process.env);
// Outside CI a machine without them skips; under CI=true the tests fail instead (.ci/run installs tini).
const SKIP = (!CAN_UNSHARE || TINI === null) && process.env['CI'] !== 'true';
if (SKIP)
  console.error(
    `system-manager: the PID 1 tests skip: ${CAN_UNSHARE ? 'no tini on PATH' : 'cannot create a pid namespace (util-linux unshare and nsenter, root)'}`,
  );

const SPAWNER = path.join(FIXTURES, 'orphan-spawner.mjs');
const SAMPLE_FOR_MS = 30_000;

afterEach(async () => {
  await killTagged();
});

interface ProcEntry {
  readonly pid: number;
  readonly ppid: number;
  readonly state: string;
  readonly comm: string;
}

function procTable(): ProcEntry[] {
  const entries: ProcEntry[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    const [state = '', ppid = ''] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    entries.push({ pid: Number(entry), ppid: Number(ppid), state, comm });
  }
  return entries;
}

/** The namespace's PID 1 (by its pid on this side) and every process below it. */
function namespaceProcesses(init: number): ProcEntry[] {
  const table = procTable();
  const found = table.filter((p) => p.pid === init);
  for (let i = 0; i < found.length; i++) {
    const parent = found[i] as ProcEntry;
    found.push(...table.filter((p) => p.ppid === parent.pid));
  }
  return found;
}

const zombies = (init: number) => namespaceProcesses(init).filter((p) => p.state === 'Z').length;

interface Pid1Manager {
  readonly unshare: ChildProcess;
  /** PID 1 of the namespace, by its pid on this side. */
  readonly init: number;
  readonly env: Record<string, string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly logs: () => Record<string, unknown>[];
  readonly waitForLog: (match: (e: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>>;
}

function parseLines(text: string): Record<string, unknown>[] {
  return text.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/**
 * `start` as PID 1 of a new pid namespace, with the orphan-spawning service
 * and `PATH` as given. When the test ends, pass or fail, the namespace's PID 1
 * is SIGKILLed (the kernel then kills everything in the namespace).
 */
async function startAsPid1(PATH: string): Promise<Pid1Manager> {
  const tmp = tempDir('sm-pid1-');
  const configFile = path.join(tmp.dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      services: [{ name: 'spawner', command: process.execPath, args: [SPAWNER], port: 'main_api' }],
      shutdown: { graceMs: 2_000 },
      // The spawner reports "orphaned <n>" on stdout: into the manager's log, where the test reads it.
      logs: { destination: 'manager' },
    }),
  );
  const env = {
    PATH,
    CORE_SESSION_DIR: path.join(tmp.dir, 'sessions'),
    LOG_LEVEL: 'info',
    ...(await portEnv()),
    ...tagEnv(),
  };
  const unshare = spawn(
    UNSHARE as string,
    [...NAMESPACE, process.execPath, ...NODE_TS, CLI, 'start', '--config', configFile],
    { cwd: APP_DIR, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    unshare.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let stderr = '';
  unshare.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let init: number | undefined;
  onTestFinished(async () => {
    if (init !== undefined && isAlive(init)) process.kill(init, 'SIGKILL');
    if (unshare.exitCode === null && unshare.signalCode === null) unshare.kill('SIGKILL');
    await exited;
  });
  await waitUntil(
    () => {
      init = procTable().find((p) => p.ppid === unshare.pid)?.pid;
      return init !== undefined;
    },
    10_000,
    "unshare's child, the namespace's PID 1",
  );
  const logs = () => parseLines(stderr);
  const waitForLog = async (match: (e: Record<string, unknown>) => boolean) => {
    await waitUntil(
      () => logs().some(match) || unshare.exitCode !== null,
      30_000,
      `a log line; stderr:\n${stderr}`,
    );
    const line = logs().find(match);
    if (line === undefined) throw new Error(`exited before the log line; stderr:\n${stderr}`);
    return line;
  };
  return { unshare, init: init as number, env, exited, logs, waitForLog };
}

/** The PID 1 check of `doctor --json`, run behind `prefix` (nsenter into a namespace, or unshare for a new one). */
function doctorInit(prefix: string[], env: Record<string, string>): Record<string, unknown> | undefined {
  const result = spawnSync(
    prefix[0] as string,
    [...prefix.slice(1), process.execPath, ...NODE_TS, CLI, 'doctor', '--json'],
    {
      cwd: APP_DIR,
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  const doc = JSON.parse(result.stdout || '{}') as { checks?: Record<string, unknown>[] };
  return doc.checks?.find((c) => c['check'] === 'init (PID 1)');
}

/** SIGTERM to the namespace's PID 1 from outside: resolves with the exit and how long it took. */
async function stopFromOutside(m: Pid1Manager) {
  const sentAt = Date.now();
  process.kill(m.init, 'SIGTERM');
  const exit = await m.exited;
  return { ...exit, ms: Date.now() - sentAt };
}

const lastOrphanCount = (m: Pid1Manager) =>
  Math.max(
    0,
    ...m
      .logs()
      .filter((e) => e['service'] === 'spawner' && /^orphaned \d+$/.test(String(e['msg'])))
      .map((e) => Number(String(e['msg']).split(' ')[1])),
  );

describe.skipIf(SKIP)('the manager as PID 1 of a pid namespace', () => {
  it('under tini: orphaned grandchildren exiting every 100 ms are reaped (≤ 5 zombies over 30 s); SIGTERM from outside stops everything, exit 0', {
    timeout: 75_000,
  }, async ({ annotate }) => {
    const m = await startAsPid1(process.env['PATH'] ?? '');
    const handover = await m.waitForLog((e) =>
      /^running as PID 1: the manager runs under/.test(String(e['msg'])),
    );
    expect(handover).toMatchObject({ pid: 1, reaper: TINI, level: 30 });
    await m.waitForLog((e) => e['msg'] === 'all services healthy');
    // PID 1 → tini -s → the manager (not PID 1) → the service.
    const [init, ...below] = namespaceProcesses(m.init);
    expect(init?.comm).toBe('node');
    // Run from source, PID 1's tsx may also have its esbuild service as a child: not ours to count.
    const tini = below.filter((p) => p.ppid === m.init && p.comm !== 'esbuild');
    expect(tini.map((p) => p.comm)).toEqual(['tini']);
    expect(below.some((p) => p.ppid === tini[0]?.pid && p.comm === 'node')).toBe(true);
    expect(m.logs().some((e) => e['msg'] === 'all services healthy' && e['pid'] !== 1)).toBe(true);

    const counts: number[] = [];
    const until = Date.now() + SAMPLE_FOR_MS;
    while (Date.now() < until) {
      counts.push(zombies(m.init));
      await new Promise((r) => setTimeout(r, 100));
    }
    const orphaned = lastOrphanCount(m);
    await annotate(
      `PID 1 under tini: ${orphaned} orphans in ${SAMPLE_FOR_MS} ms, zombies at most ${Math.max(...counts)} (${counts.length} samples)`,
    );
    expect(orphaned).toBeGreaterThanOrEqual(100); // the load was real
    expect(Math.max(...counts)).toBeLessThanOrEqual(5);

    // doctor, run inside the namespace, finds the reaper.
    expect(
      doctorInit([NSENTER as string, '-t', String(m.init), '-p', '-m', `--wd=${APP_DIR}`], m.env),
    ).toMatchObject({
      status: 'ok',
      message: expect.stringMatching(/^the manager is PID 1; tini \(pid \d+\) reaps orphaned processes/),
    });

    const stop = await stopFromOutside(m);
    await annotate(`PID 1 under tini: SIGTERM to exit in ${stop.ms} ms`);
    expect(stop).toMatchObject({ code: 0, signal: null });
    expect(stop.ms).toBeLessThan(10_000);
    // Forwarded through tini: the manager itself got the SIGTERM and stopped its services.
    expect(m.logs().find((e) => e['msg'] === 'shutting down')).toMatchObject({ signal: 'SIGTERM' });
    expect(m.logs().some((e) => e['msg'] === 'stopped')).toBe(true);
    expect(isAlive(m.init)).toBe(false);
    expect(taggedPids()).toEqual([]);
  });

  it('without tini on PATH: the start log and doctor say so and how to fix it; zombies pile up; SIGTERM still stops everything', {
    timeout: 60_000,
  }, async ({ annotate }) => {
    const { dir: emptyPath } = tempDir('sm-pid1-path-');
    const m = await startAsPid1(emptyPath);
    const warning = await m.waitForLog((e) => String(e['msg']).startsWith(NO_REAPER_MESSAGE));
    expect(warning).toMatchObject({ pid: 1, level: 40 });
    expect(String(warning['msg'])).toContain('docker run --init');
    expect(String(warning['msg'])).toContain('install tini');
    await m.waitForLog((e) => e['msg'] === 'all services healthy');
    // What the reaper is for: without it the orphans stay zombies.
    await waitUntil(() => zombies(m.init) > 5, 15_000, 'zombies to pile up');
    expect(
      doctorInit([NSENTER as string, '-t', String(m.init), '-p', '-m', `--wd=${APP_DIR}`], m.env),
    ).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/^the manager is PID 1 without a reaper: .*\((\d+) now\)$/),
      fix: expect.stringContaining('docker run --init'),
    });
    const piled = zombies(m.init);
    const stop = await stopFromOutside(m);
    await annotate(`PID 1 without tini: ${piled} zombies at the stop; SIGTERM to exit in ${stop.ms} ms`);
    expect(stop).toMatchObject({ code: 0, signal: null });
    expect(isAlive(m.init)).toBe(false);
    expect(taggedPids()).toEqual([]);
  });

  it('doctor as PID 1 (`docker run <image> system-manager doctor`): warns without tini, ok with it', {
    timeout: 60_000,
  }, async () => {
    const { dir } = tempDir('sm-pid1-doctor-');
    const env = {
      CORE_SESSION_DIR: path.join(dir, 's'),
      XDG_CONFIG_HOME: dir,
      ...(await portEnv()),
      ...tagEnv(),
    };
    expect(doctorInit([UNSHARE as string, ...NAMESPACE], { ...env, PATH: dir })).toMatchObject({
      status: 'warn',
      message: `doctor is PID 1, and so would be a start: ${NO_REAPER_MESSAGE}`,
      fix: expect.stringContaining('docker run --init'),
    });
    expect(doctorInit([UNSHARE as string, ...NAMESPACE], env)).toMatchObject({
      status: 'ok',
      message: `doctor is PID 1; a start as PID 1 runs under ${TINI} -s, which reaps orphaned processes`,
    });
  });
});
