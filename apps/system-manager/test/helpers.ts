import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, onTestFinished, TestRunner } from 'vitest';
import type { ManagerStatus } from '../src/index.js';

export const APP_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(APP_DIR, 'src', 'cli.ts');
export const FIXTURES = path.join(APP_DIR, 'test', 'fixtures');
/** Runs TypeScript source in a child: sibling packages resolve to their src via the @core/source condition. */
export const NODE_TS = ['--conditions=@core/source', '--import', 'tsx'];
export const PORT_NAMES = [
  'main_api',
  'websocket_router',
  'frontend',
  'llama_cpp',
  'event_ui',
  'control',
] as const;

/**
 * Every process a test starts carries this tag in its environment (and so do
 * their children: services inherit the manager's env). `killTagged()` ends
 * them all in afterEach/afterAll, whatever their parent did, and
 * scripts/check-leftovers.mjs fails CI when any tagged process outlives the suite.
 */
export const TEST_TAG_VAR = 'CORE_TEST_RUN_TAG';
/** This test file's tag value. */
export const RUN_TAG = `system-manager-${process.pid}-${randomUUID().slice(0, 8)}`;

/** Env entries that tag a child as this test file's. */
export function tagEnv(): Record<string, string> {
  return { [TEST_TAG_VAR]: RUN_TAG };
}

/** Pids of live (not zombie) processes whose environment carries `tag`. */
export function taggedPids(tag = RUN_TAG): number[] {
  const needle = `${TEST_TAG_VAR}=${tag}\0`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
      if (!`${environ}\0`.includes(needle)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && state !== 'X') pids.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return pids;
}

/**
 * SIGKILLs every process tagged with `tag` (managers, services, helpers) and
 * waits until they are gone. A manager may be restarting a service at that
 * very moment (its child forked but not yet seen by a scan), so every tagged
 * process is first frozen (SIGSTOP: a stopped manager spawns nothing), then
 * killed, and the scan repeats until two in a row find nothing.
 */
export async function killTagged(tag = RUN_TAG, timeoutMs = 5_000): Promise<number[]> {
  const signal = (pids: number[], sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // Already gone.
      }
    }
  };
  const killed = new Set<number>();
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  while (quiet < 2 && Date.now() < deadline) {
    const pids = taggedPids(tag);
    if (pids.length === 0) {
      quiet++;
    } else {
      quiet = 0;
      signal(pids, 'SIGSTOP');
      signal(pids, 'SIGKILL');
      for (const pid of pids) killed.add(pid);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return [...killed];
}

export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first JSON log line on stderr for which `match` is true. */
  waitForLog: (
    match: (entry: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ) => Promise<Record<string, unknown>>;
}

/**
 * A new directory in the OS temp dir. Made inside a test (or its
 * beforeEach), it is removed when that test finishes, pass or fail; one made
 * for a whole file (at file level, in beforeAll) is the caller's to `remove`
 * in afterAll, and so is one made in a concurrent test (with its context's
 * onTestFinished: the global hook cannot tell concurrent tests apart).
 * `remove` may run early, and twice.
 */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const test = TestRunner.getCurrentTest();
  if (test && !test.concurrent) onTestFinished(remove);
  return { dir, remove };
}

/** A port that was free a moment ago (the OS picks it), for tests that need distinct ports. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Env that gives every named port its own free port. */
export async function portEnv(): Promise<Record<string, string>> {
  // All listeners stay open until every port is chosen: one at a time, the OS
  // may hand the same just-closed port out twice.
  const servers = await Promise.all(
    PORT_NAMES.map(
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen({ host: '127.0.0.1', port: 0 }, () => resolve(server));
        }),
    ),
  );
  const env: Record<string, string> = {};
  for (const [i, server] of servers.entries()) {
    const name = PORT_NAMES[i] as string;
    env[`SYSTEM_MANAGER_PORT_${name.toUpperCase()}`] = String((server.address() as net.AddressInfo).port);
  }
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return env;
}

/**
 * The state directory of every manager a test of this file starts (service
 * log files land in its logs/), in the worker's env so that CLIs a test
 * spawns itself inherit it too; removed after the file's tests (each test
 * file evaluates this module anew).
 */
const fileStateDir = mkdtempSync(path.join(os.tmpdir(), 'sm-state-'));
process.env['XDG_STATE_HOME'] = fileStateDir;
afterAll(() => rmSync(fileStateDir, { recursive: true, force: true }));

/**
 * The control sockets' directory of every manager (and CLI) of this test
 * file, likewise: a manager's socket goes there, not into the real runtime
 * directory; removed after the file's tests.
 */
export const runtimeDir = mkdtempSync(path.join(os.tmpdir(), 'sm-run-'));
process.env['SYSTEM_MANAGER_RUNTIME_DIR'] = runtimeDir;
afterAll(() => rmSync(runtimeDir, { recursive: true, force: true }));
function stateHome(): string {
  return fileStateDir;
}

export function run(args: string[], env: Record<string, string>, script = CLI): Running {
  const child = spawn(process.execPath, [...NODE_TS, script, ...args], {
    cwd: APP_DIR,
    env: { ...process.env, XDG_STATE_HOME: stateHome(), LOG_LEVEL: 'info', ...env, ...tagEnv() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: {
    match: (e: Record<string, unknown>) => boolean;
    resolve: (e: Record<string, unknown>) => void;
  }[] = [];
  const seen: Record<string, unknown>[] = [];
  let partial = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
    const lines = (partial + c.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      seen.push(entry);
      for (const w of [...waiters]) {
        if (w.match(entry)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(entry);
        }
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForLog: (match, timeoutMs = 20_000) => {
      const found = seen.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`log line not seen within ${timeoutMs} ms; stderr:\n${err}`)),
          timeoutMs,
        );
        const waiter = {
          match,
          resolve: (e: Record<string, unknown>) => {
            clearTimeout(timer);
            resolve(e);
          },
        };
        waiters.push(waiter);
        void exited.then(({ code, signal }) => {
          if (waiters.includes(waiter)) {
            clearTimeout(timer);
            reject(new Error(`process exited (${code ?? signal}) before the log line; stderr:\n${err}`));
          }
        });
      });
    },
  };
}

/** Runs a CLI command to completion. */
export async function runToEnd(args: string[], env: Record<string, string>) {
  const r = run(args, env);
  const { code } = await r.exited;
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export async function httpGet(port: number, pathname: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${pathname}`);
  return { status: res.status, body: await res.text() };
}

export const MISBEHAVING = path.join(FIXTURES, 'misbehaving-service.mjs');

/** A service entry running the misbehaving fixture in `mode` (see test/fixtures/misbehaving-service.mjs). */
export function misbehaving(
  name: string,
  mode: string,
  extra: Record<string, unknown> & { env?: Record<string, string> } = {},
): Record<string, unknown> {
  const { env, ...rest } = extra;
  return {
    name,
    command: process.execPath,
    args: [MISBEHAVING],
    port: 'main_api',
    env: { MODE: mode, ...env },
    ...rest,
  };
}

/** A manager started from a config written to a fresh temp dir, with its own session dir and free ports. */
export interface ManagerUnderTest extends Running {
  readonly dir: string;
  readonly configFile: string;
  readonly env: Record<string, string>;
  /** Resolves with the control port once "all services healthy" was logged. */
  readonly ready: () => Promise<number>;
  /** GET /status of the running manager. */
  readonly status: () => Promise<ManagerStatus>;
  /** Rewrites the config file (for SIGHUP reloads). */
  readonly writeConfig: (config: unknown) => void;
  readonly remove: () => void;
}

export async function startManager(
  config: Record<string, unknown>,
  extraEnv: Record<string, string> = {},
): Promise<ManagerUnderTest> {
  const tmp = tempDir('sm-test-');
  const configFile = path.join(tmp.dir, 'config.json');
  const writeConfig = (c: unknown) => writeFileSync(configFile, JSON.stringify(c));
  writeConfig(config);
  const env = { CORE_SESSION_DIR: path.join(tmp.dir, 'sessions'), ...(await portEnv()), ...extraEnv };
  const running = run(['start', '--config', configFile], env);
  let control: number | undefined;
  const ready = async () => {
    if (control !== undefined) return control;
    const line = await running.waitForLog((e) => e['msg'] === 'all services healthy');
    control = Number(String(line['control']).split(':').pop());
    return control;
  };
  return {
    ...running,
    dir: tmp.dir,
    configFile,
    env,
    ready,
    status: async () => JSON.parse((await httpGet(await ready(), '/status')).body) as ManagerStatus,
    writeConfig,
    remove: tmp.remove,
  };
}

/** Parsed JSON log lines of a run's stderr. */
export function logLines(r: Running): Record<string, unknown>[] {
  return r
    .stderr()
    .split('\n')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/**
 * `status --json` of the sessions in `env`'s registry, live ones only, as
 * `{ pid, servicePids }` (works with the document listing dead sessions too,
 * marked `liveness: "dead"`).
 */
export async function liveSessions(
  env: Record<string, string>,
): Promise<{ pid: number; servicePids: number[] }[]> {
  const { code, stdout, stderr } = await runToEnd(['status', '--json'], env);
  if (code !== 0) throw new Error(`status --json exited ${code}: ${stderr}`);
  const doc = JSON.parse(stdout) as {
    sessions: { pid: number; liveness?: string; services: { pid: number | null }[] }[];
  };
  return doc.sessions
    .filter((s) => s.liveness !== 'dead')
    .map((s) => ({ pid: s.pid, servicePids: s.services.map((x) => x.pid as number) }));
}
