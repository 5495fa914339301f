import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshDir } from '../test/helpers.js';
import { SessionLockTimeoutError } from './errors.js';
import { ensurePrivateDir } from './files.js';
import { FileLock } from './lock.js';
import { readBootId, readProcessStartTime } from './process.js';

const silent = { warn() {} };

function lockIn(dir: string, timeoutMs = 2_000) {
  ensurePrivateDir(dir);
  return new FileLock(join(dir, 'registry.json.lock'), { timeoutMs, staleMs: 30_000, logger: silent });
}

function ownerRecord(pid: number, overrides: Record<string, unknown> = {}) {
  return JSON.stringify({
    token: 'planted',
    pid,
    threadId: 0,
    processStartTime: readProcessStartTime(pid),
    bootId: readBootId(),
    hostname: hostname(),
    acquiredAt: Date.now(),
    ...overrides,
  });
}

describe('FileLock', () => {
  it('excludes a second holder until released (async and sync)', async () => {
    const lock = lockIn(freshDir(), 50);
    const token = await lock.acquire();
    await expect(lock.acquire()).rejects.toBeInstanceOf(SessionLockTimeoutError);
    lock.release(token);
    const again = lock.acquireSync();
    expect(lock.isHeld(again)).toBe(true);
    lock.release(again);
    expect(lock.isHeld(again)).toBe(false);
  });

  it('lets a sync acquire take over from an async holder of the same thread (an exit handler cannot wait for it)', async () => {
    const warnings: string[] = [];
    const dir = freshDir();
    ensurePrivateDir(dir);
    const lock = new FileLock(join(dir, 'l.lock'), {
      timeoutMs: 1_000,
      staleMs: 30_000,
      logger: { warn: (_obj, msg) => void warnings.push(msg ?? '') },
    });
    const asyncToken = await lock.acquire();
    const syncToken = lock.acquireSync();
    expect(lock.isHeld(asyncToken)).toBe(false);
    expect(lock.isHeld(syncToken)).toBe(true);
    expect(warnings.join()).toContain('taking the lock over');
    lock.release(syncToken);
  });

  it('times out with a named error naming the lock file and its live holder', async () => {
    const dir = freshDir();
    const lock = lockIn(dir, 100);
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('spawn', resolve));
    try {
      writeFileSync(lock.path, ownerRecord(child.pid!), { mode: 0o600 });
      const error = await lock.acquire().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SessionLockTimeoutError);
      expect((error as SessionLockTimeoutError).code).toBe('E_SESSION_LOCK_TIMEOUT');
      expect((error as Error).message).toContain(lock.path);
      expect((error as Error).message).toContain(`pid ${child.pid}`);
      expect(readFileSync(lock.path, 'utf8')).toContain('planted');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('breaks at once a lock whose holder is dead or whose pid was reused', async () => {
    const dir = freshDir();
    const lock = lockIn(dir, 1_000);
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    writeFileSync(lock.path, ownerRecord(child.pid!, { processStartTime: '1' }), { mode: 0o600 });
    const token = lock.acquireSync();
    expect(lock.isHeld(token)).toBe(true);
    lock.release(token);
    // Live pid (this process), but another start time: a reused pid.
    writeFileSync(
      lock.path,
      ownerRecord(process.pid, { processStartTime: 'not-this-process', threadId: 99 }),
      {
        mode: 0o600,
      },
    );
    const second = await lock.acquire();
    expect(lock.isHeld(second)).toBe(true);
    lock.release(second);
  });

  it('waits for an unreadable lock file until it is older than staleMs, then breaks it', async () => {
    const dir = freshDir();
    ensurePrivateDir(dir);
    const path = join(dir, 'x.lock');
    const lock = new FileLock(path, { timeoutMs: 2_000, staleMs: 150, logger: silent });
    writeFileSync(path, 'garbage', { mode: 0o600 });
    const token = await lock.acquire();
    expect(lock.isHeld(token)).toBe(true);
    lock.release(token);
  });
});
