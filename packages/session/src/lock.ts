// Cross-process lock file. Why not proper-lockfile: it judges a lock stale by
// mtime only (a SIGKILLed holder blocks everyone for `stale` ms), it has no
// retries in lockSync, and by default it throws from a timer when the lock is
// "compromised" (e.g. after a laptop sleep). This lock records its owner
// (pid, process start time, boot id, host), so a dead holder on this host is
// detected at once, and it never throws from a timer.
//
// Acquire: write the owner record to a temp file, then link(2) it to the lock
// path; link fails with EEXIST when the lock exists, so the lock file always
// appears complete. Breaking a stale lock is done under a short-lived
// "breaker" lock and only after re-reading the lock and finding the same
// owner token, so a fresh lock taken meanwhile is never deleted.
import { randomUUID } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { threadId } from 'node:worker_threads';
import { z } from 'zod';
import type { SessionLogger } from './contract.js';
import { SessionLockTimeoutError } from './errors.js';
import { createExclusiveFileSync, readPrivateFileSync, removeFileSync } from './files.js';
import { isProcessAlive, readBootId, readProcessStartTime, sleepSync } from './process.js';

const LockOwnerSchema = z.object({
  token: z.string().min(1),
  pid: z.number().int().positive(),
  threadId: z.number().int().nonnegative(),
  processStartTime: z.string().nullable(),
  bootId: z.string(),
  hostname: z.string(),
  acquiredAt: z.number(),
});
type LockOwner = z.infer<typeof LockOwnerSchema>;

/** Tokens of locks held by this thread (to detect a sync acquire blocked by our own abandoned async section). */
const heldByThisThread = new Set<string>();

let ownStartTime: string | null | undefined;
function myStartTime(): string | null {
  if (ownStartTime === undefined) ownStartTime = readProcessStartTime(process.pid);
  return ownStartTime;
}

/** Options of {@link FileLock}. */
export interface FileLockOptions {
  /** Bounded wait before `SessionLockTimeoutError`. */
  readonly timeoutMs: number;
  /** Age after which a lock whose owner cannot be checked (other host, unreadable) is broken. */
  readonly staleMs: number;
  readonly logger: SessionLogger;
}

type Attempt = { readonly token: string } | { readonly holder: string };

/** One lock file; `acquire`/`acquireSync` return a token for `release`. */
export class FileLock {
  readonly path: string;
  private readonly breakerPath: string;
  private readonly options: FileLockOptions;

  constructor(path: string, options: FileLockOptions) {
    this.path = path;
    this.breakerPath = `${path}.break`;
    this.options = options;
  }

  /** Waits (asynchronously) for the lock. @throws SessionLockTimeoutError */
  async acquire(): Promise<string> {
    const deadline = Date.now() + this.options.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const result = this.attempt(false);
      if ('token' in result) return result.token;
      if (Date.now() >= deadline)
        throw new SessionLockTimeoutError(this.path, this.options.timeoutMs, result.holder);
      await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt)));
    }
  }

  /** Waits (blocking the thread, for exit handlers) for the lock. @throws SessionLockTimeoutError */
  acquireSync(): string {
    const deadline = Date.now() + this.options.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const result = this.attempt(true);
      if ('token' in result) return result.token;
      if (Date.now() >= deadline)
        throw new SessionLockTimeoutError(this.path, this.options.timeoutMs, result.holder);
      sleepSync(backoffMs(attempt));
    }
  }

  /** Whether `token` still holds the lock (false if it was broken or taken over). */
  isHeld(token: string): boolean {
    const owner = this.readOwner(this.path);
    return owner !== null && owner !== 'unreadable' && owner.token === token;
  }

  /**
   * Whether this thread still owns `token` without reading the file: only a
   * sync acquire of this same thread takes a live holder's lock over, and it
   * removes the token from this thread's set when it does.
   */
  stillOwns(token: string): boolean {
    return heldByThisThread.has(token);
  }

  /** Releases the lock if `token` still holds it. */
  release(token: string): void {
    heldByThisThread.delete(token);
    if (this.isHeld(token)) removeFileSync(this.path);
    else
      this.options.logger.warn(
        { lockFile: this.path },
        `session lock ${this.path} was no longer ours at release`,
      );
  }

  private attempt(sync: boolean): Attempt {
    const token = this.tryCreate(this.path);
    if (token !== null) {
      heldByThisThread.add(token);
      return { token };
    }
    const owner = this.readOwner(this.path);
    if (owner === null) return { holder: 'nobody (released just now)' };
    if (owner === 'unreadable') {
      if (this.ageMs(this.path) > this.options.staleMs) this.breakStale(null);
      return { holder: 'an unreadable lock file' };
    }
    const holder = `pid ${owner.pid} on ${owner.hostname}`;
    if (
      sync &&
      owner.pid === process.pid &&
      owner.threadId === threadId &&
      heldByThisThread.has(owner.token)
    ) {
      // An async section of this very thread holds it and cannot run while we block
      // (typically: process.on('exit') while an update was awaiting). Take over.
      this.options.logger.warn(
        { lockFile: this.path },
        'sync registry access while an async update of this thread held the lock; taking the lock over',
      );
      heldByThisThread.delete(owner.token);
      this.breakStale(owner.token);
      return { holder };
    }
    if (this.isStale(owner)) {
      this.options.logger.debug?.({ lockFile: this.path, holder }, 'breaking a stale session lock');
      this.breakStale(owner.token);
    }
    return { holder };
  }

  private isStale(owner: LockOwner): boolean {
    if (owner.hostname === osHostname()) {
      if (owner.bootId !== readBootId()) return true;
      return !isProcessAlive(owner.pid, owner.processStartTime);
    }
    return Date.now() - owner.acquiredAt > this.options.staleMs;
  }

  private ageMs(path: string): number {
    try {
      return Date.now() - lstatSync(path).mtimeMs;
    } catch {
      return 0;
    }
  }

  /** Removes the lock only if it still is the one judged stale (`token`, or any unreadable lock when null). */
  private breakStale(token: string | null): void {
    const breaker = this.tryCreate(this.breakerPath);
    if (breaker === null) {
      // Someone is breaking it right now (held for a few syscalls), unless the breaker died.
      const owner = this.readOwner(this.breakerPath);
      const dead =
        owner === 'unreadable'
          ? this.ageMs(this.breakerPath) > this.options.staleMs
          : owner !== null && this.isStale(owner);
      if (dead) removeFileSync(this.breakerPath);
      return;
    }
    try {
      const current = this.readOwner(this.path);
      const same =
        token === null
          ? current === 'unreadable'
          : current !== null && current !== 'unreadable' && current.token === token;
      if (same) removeFileSync(this.path);
    } finally {
      removeFileSync(this.breakerPath);
    }
  }

  private tryCreate(path: string): string | null {
    const owner: LockOwner = {
      token: randomUUID(),
      pid: process.pid,
      threadId,
      processStartTime: myStartTime(),
      bootId: readBootId(),
      hostname: osHostname(),
      acquiredAt: Date.now(),
    };
    return createExclusiveFileSync(path, JSON.stringify(owner)) ? owner.token : null;
  }

  private readOwner(path: string): LockOwner | 'unreadable' | null {
    const read = readPrivateFileSync(path);
    if (read.kind === 'missing') return null;
    if (read.kind === 'unsafe') return 'unreadable';
    try {
      const parsed = LockOwnerSchema.safeParse(JSON.parse(read.text));
      return parsed.success ? parsed.data : 'unreadable';
    } catch {
      return 'unreadable';
    }
  }
}

function backoffMs(attempt: number): number {
  const base = Math.min(4, 2 ** Math.min(attempt, 2));
  return base / 2 + Math.random() * base;
}
