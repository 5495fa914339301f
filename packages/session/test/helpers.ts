import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import type { SessionRecord } from '../src/contract.js';
import { readHostIdentity } from '../src/host.js';

/**
 * A new directory in the OS temp dir (real path), removed with everything in
 * it when the calling test finishes, pass or fail. Call it inside a test (not
 * a concurrent one: vitest's global onTestFinished cannot tell those apart).
 */
export function tempDir(prefix: string): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh private directory for one test (the session dir is a subfolder, created by the code under test). */
export function freshDir(prefix = 'session-test-'): string {
  return join(tempDir(prefix), 'sessions');
}

/** A running fixture script with its stdout as lines. */
export interface Fixture {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the next stdout line that satisfies `match` (lines already received are searched first). */
  line(match?: (line: string) => boolean): Promise<string>;
  /** Resolves with the exit code (or signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** Runs `test/fixtures/<name>.ts` in a new Node process on TypeScript source. */
export function runFixture(name: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Fixture {
  const script = fileURLToPath(new URL(`./fixtures/${name}.ts`, import.meta.url));
  const child = spawn(process.execPath, ['--conditions=@core/source', '--import', 'tsx', script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const index = waiters.findIndex((w) => w.match(line));
    if (index >= 0) waiters.splice(index, 1)[0]!.resolve(line);
    else lines.push(line);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    pid: child.pid!,
    exited,
    stderr: () => err,
    line(match = () => true) {
      const index = lines.findIndex(match);
      if (index >= 0) return Promise.resolve(lines.splice(index, 1)[0]!);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        void exited.then(({ code, signal }) =>
          reject(
            new Error(`fixture ${name} exited (${code ?? signal}) before the expected line; stderr:\n${err}`),
          ),
        );
      });
    },
  };
}

/** Kills a fixture with SIGKILL and waits for it to be reaped. */
export async function killHard(fixture: Fixture): Promise<void> {
  if (fixture.child.exitCode === null && fixture.child.signalCode === null) fixture.child.kill('SIGKILL');
  await fixture.exited;
}

let deadPidCache: number | undefined;

/** A pid that belonged to a process that has exited (and been reaped); re-made if it was reused meanwhile. */
export function deadPid(): number {
  if (deadPidCache === undefined || existsSync(`/proc/${deadPidCache}`))
    deadPidCache = spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' }).pid as number;
  return deadPidCache;
}

/** A session record as another process would have written it (dead by default: its pid is gone). */
export function recordOf(overrides: Partial<SessionRecord> & { sessionId: string }): SessionRecord {
  const now = Date.now();
  return {
    pid: deadPid(),
    hostname: readHostIdentity().hostname,
    hostId: readHostIdentity().id,
    processStartTime: '1',
    createdAt: now,
    registeredAt: now,
    status: 'active',
    vmId: null,
    zone: null,
    components: [],
    metadata: {},
    resources: [],
    ...overrides,
  };
}

/** Writes a record file the way its owner would (`<dir>/sessions/<id>.json`). */
export function plantRecord(dir: string, record: SessionRecord): string {
  mkdirSync(join(dir, 'sessions'), { recursive: true, mode: 0o700 });
  const file = join(dir, 'sessions', `${record.sessionId}.json`);
  writeFileSync(file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  return file;
}

/** Every file under `dir`, relative, sorted. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (sub: string) => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  walk('');
  return out.sort();
}
