import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { onTestFinished } from 'vitest';

export { recordOf, remoteOwner } from '@tooling/session-contract';

/**
 * A new directory in the OS temp dir (real path), removed with everything in
 * it when the calling test finishes, pass or fail (after afterEach, so after
 * killMembers). Call it inside a test (not a concurrent one: vitest's global
 * onTestFinished cannot tell those apart).
 */
export function tempDir(prefix: string): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh session directory (a subfolder of a new temp dir, created by the code under test). */
export function freshDir(): string {
  return join(tempDir('session-redis-'), 'sessions');
}

let prefixes = 0;
/** A key prefix no other test uses, so tests share one server without seeing each other. */
export function freshPrefix(): string {
  prefixes++;
  return `{t${process.pid}-${prefixes}-${Date.now()}}:`;
}

/** A plain client for looking at (and planting) keys. */
export function rawClient(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false });
  // The outages the tests cause reach this client too: its commands reject with them; the
  // connection-level event needs a listener or ioredis prints "Unhandled error event".
  client.on('error', () => {});
  return client;
}

/** Polls until `check` holds (no fixed sleeps); fails after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const started = new Set<ChildProcess>();

/** SIGKILLs every member still running (afterEach/afterAll: nothing is left behind, even on failure). */
export async function killMembers(): Promise<void> {
  const exits = [...started].map((child) => {
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGCONT');
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
    return gone;
  });
  await Promise.all(exits);
}

/** A fleet member process (test/fixtures/fleet-member.ts) with its replies as JSON lines. */
export interface Member {
  readonly child: ChildProcess;
  readonly sessionId: string;
  send(line: string): void;
  next(): Promise<Record<string, unknown>>;
  readonly exited: Promise<number | null>;
}

/** Starts a fleet member and waits for its "ready" line. */
export async function startMember(args: {
  url: string;
  prefix: string;
  dir: string;
  leaseTtlMs: number;
  heartbeatMs: number;
  /** Play a session of another host (judged by its lease alone). */
  remote?: boolean;
}): Promise<Member> {
  const script = fileURLToPath(new URL('./fixtures/fleet-member.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      '--conditions=@core/source',
      '--import',
      'tsx',
      script,
      args.url,
      args.prefix,
      args.dir,
      String(args.leaseTtlMs),
      String(args.heartbeatMs),
      ...(args.remote ? ['remote'] : []),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  started.add(child);
  child.once('exit', () => started.delete(child));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const queue: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line);
    else queue.push(line);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const line = queue.shift();
      if (line !== undefined) return resolve(JSON.parse(line));
      waiters.push((l) => resolve(JSON.parse(l)));
      void exited.then((code) =>
        reject(new Error(`fleet member exited (${code}) before replying; stderr:\n${stderr}`)),
      );
    });
  const ready = await next();
  return {
    child,
    sessionId: String(ready['ready']),
    send: (line) => child.stdin?.write(`${line}\n`),
    next,
    exited,
  };
}
