import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';

export { recordOf, remoteOwner } from '@tooling/session-contract';

import { EtcdSessionStore, type EtcdSessionStoreOptions } from '../src/index.js';

/** Lease timing of the tests: etcd counts whole seconds; elections take ~0.5 s here. */
export const TIMING = {
  leaseTtlMs: 2_000,
  heartbeatMs: 400,
  commandTimeoutMs: 600,
  unavailableTimeoutMs: 8_000,
};

/**
 * A new directory in the OS temp dir (real path), removed with everything in
 * it when the calling test finishes, pass or fail.
 */
export function tempDir(prefix: string): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A key prefix no other test uses, so tests share one cluster without seeing each other. */
export function freshPrefix(): string {
  return `t-${process.pid}-${randomUUID().slice(0, 8)}/`;
}

/** Polls until `check` holds (no fixed sleeps); fails after `timeoutMs`. */
export async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Stores made by {@link storeOn}, closed when the test finishes. */
export function storeOn(
  endpoints: readonly string[],
  prefix: string,
  options: Partial<EtcdSessionStoreOptions> = {},
): EtcdSessionStore {
  const store = new EtcdSessionStore({ endpoints, keyPrefix: prefix, settleMs: 0, ...TIMING, ...options });
  onTestFinished(() => store.close());
  return store;
}

/** A child process running test/fixtures/member.ts, driven by JSON lines. */
export interface Member {
  readonly child: ChildProcess;
  readonly sessionId: string;
  request(command: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** The next line the member prints unasked (e.g. `{"cleaning": …}`). */
  next(): Promise<Record<string, unknown>>;
}

const members = new Set<ChildProcess>();

/** SIGCONT + SIGKILL every member still running (afterEach/onTestFinished: nothing is left, even on failure). */
export async function killMembers(): Promise<void> {
  await Promise.all(
    [...members].map((child) => {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      try {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
      return gone;
    }),
  );
}

/** Starts a member (its own store and session on `endpoints`) and waits for its "ready" line. */
export async function startMember(config: {
  endpoints: readonly string[];
  prefix: string;
  dir: string;
  remote?: boolean;
  settleMs?: number;
}): Promise<Member> {
  const script = fileURLToPath(new URL('./fixtures/member.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--conditions=@core/source', '--import', 'tsx', script, JSON.stringify({ ...TIMING, ...config })],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      // The tag (CORE_TEST_RUN_TAG) passes through; tsx's transform cache goes to a temp dir of this test.
      env: { ...process.env, TMPDIR: tempDir('session-etcd-member-') },
    },
  );
  members.add(child);
  child.once('exit', () => members.delete(child));
  onTestFinished(killMembers);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const queue: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line);
    else queue.push(line);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const line = queue.shift();
      if (line !== undefined) return resolve(JSON.parse(line));
      waiters.push((l) => resolve(JSON.parse(l)));
      void exited.then((code) =>
        reject(new Error(`member exited (${code}) before replying; stderr:\n${stderr}`)),
      );
    });
  const ready = await next();
  return {
    child,
    sessionId: String(ready['ready']),
    next,
    request(command) {
      child.stdin?.write(`${JSON.stringify(command)}\n`);
      return next();
    },
  };
}
