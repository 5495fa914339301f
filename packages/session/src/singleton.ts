import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { SessionLogger } from './contract.js';
import { SessionDirUnsafeError, SessionOptionsConflictError, SessionVersionConflictError } from './errors.js';
import { createExclusiveFileSync, ensurePrivateDir, quarantineSync, readPrivateFileSync } from './files.js';
import { GlobalSessionManager, type SessionIdentitySeed } from './manager.js';
import { resolveSessionDir, resolveSessionOptions, type SessionManagerOptions } from './options.js';
import { readBootId, readProcessStartTime } from './process.js';
import { type ProcessFile, ProcessFileSchema, parseWith } from './schema.js';

// The process session lives on a globalThis slot, not in module state: a
// process that loads @core/session twice (two versions in a lockfile, a
// bundled copy) must still have one session. The slot carries the version of
// the copy that created it; a copy of another major refuses to share it
// (SessionVersionConflictError) rather than make a second session. Worker
// threads have their own globalThis, so "one session per process" across
// threads is carried by a per-process identity file (see joinProcessSession).
const SLOT = Symbol.for('@core/session/process-session');

/** What the slot holds; its shape is part of the cross-copy contract, so it only ever grows. */
interface ProcessSessionSlot {
  /** Version of the @core/session copy that created the manager. */
  readonly version: string;
  readonly manager: GlobalSessionManager;
}

let packageVersion: string | undefined;

/**
 * The version of this copy of @core/session (from its package.json). Read on
 * first use, not at import: a tool that bundles the package's read-only parts
 * (the app's `status`) has no package.json of ours beside the bundle and never needs it.
 */
export function sessionPackageVersion(): string {
  packageVersion ??= (createRequire(import.meta.url)('../package.json') as { version: string }).version;
  return packageVersion;
}

/** Whether two versions may share a session: same major (for 0.x, same minor, as semver's caret). */
export function compatibleVersions(a: string, b: string): boolean {
  const [aMajor, aMinor] = a.split('.');
  const [bMajor, bMinor] = b.split('.');
  if (aMajor !== bMajor) return false;
  return aMajor !== '0' || aMinor === bMinor;
}

function readSlot(): ProcessSessionSlot | undefined {
  const slot = (globalThis as Record<symbol, unknown>)[SLOT] as ProcessSessionSlot | undefined;
  if (slot === undefined) return undefined;
  if (!compatibleVersions(slot.version, sessionPackageVersion()))
    throw new SessionVersionConflictError(slot.version, sessionPackageVersion());
  return slot;
}

/**
 * The identity of this process's session, shared by its main thread and
 * worker threads: the first thread to get here creates
 * `process-<pid>-<start-time hash>.json` exclusively (content complete before
 * it appears), the others read it. The file name includes the process start
 * time and boot id, so a later process that reuses the pid never adopts it;
 * a child process has another pid and so always gets its own session.
 */
export function joinProcessSession(dir: string, logger: SessionLogger): SessionIdentitySeed {
  const pid = process.pid;
  const hostname = osHostname();
  const processStartTime = readProcessStartTime(pid);
  const key = createHash('sha256')
    .update(`${processStartTime}|${readBootId()}|${hostname}`)
    .digest('hex')
    .slice(0, 16);
  const processFile = join(dir, `process-${pid}-${key}.json`);
  for (let attempt = 0; attempt < 5; attempt++) {
    const mine: ProcessFile = {
      format: 'core-session-process',
      sessionId: randomUUID(),
      pid,
      hostname,
      processStartTime,
      createdAt: Date.now(),
    };
    if (createExclusiveFileSync(processFile, `${JSON.stringify(mine, null, 2)}\n`)) {
      return { sessionId: mine.sessionId, createdAt: mine.createdAt, processFile };
    }
    const read = readPrivateFileSync(processFile);
    if (read.kind === 'missing') continue;
    if (read.kind === 'unsafe') {
      quarantineSync(processFile, read.reason, logger);
      continue;
    }
    const parsed = parseWith(ProcessFileSchema, read.text);
    if (!parsed.ok) {
      quarantineSync(processFile, parsed.reason, logger);
      continue;
    }
    const found = parsed.value;
    if (found.pid !== pid || found.hostname !== hostname || found.processStartTime !== processStartTime) {
      quarantineSync(processFile, 'it belongs to another process', logger);
      continue;
    }
    return { sessionId: found.sessionId, createdAt: found.createdAt, processFile };
  }
  // Could not agree through the file (it keeps being replaced): a session of our own is still correct, just not shared.
  logger.warn(
    { file: processFile },
    `could not share the session through ${processFile}; this thread uses its own session`,
  );
  return { sessionId: randomUUID(), createdAt: Date.now(), processFile: null };
}

function assertSameOptions(existing: GlobalSessionManager, options: SessionManagerOptions): void {
  if (options.dir !== undefined && resolveSessionDir(options.dir) !== existing.dir) {
    throw new SessionOptionsConflictError('dir', existing.dir, resolveSessionDir(options.dir));
  }
  if (
    options.maxSessionAgeHours !== undefined &&
    options.maxSessionAgeHours !== existing.maxSessionAgeHours
  ) {
    throw new SessionOptionsConflictError(
      'maxSessionAgeHours',
      existing.maxSessionAgeHours,
      options.maxSessionAgeHours,
    );
  }
  if (options.lockTimeoutMs !== undefined && options.lockTimeoutMs !== existing.lockTimeoutMs) {
    throw new SessionOptionsConflictError('lockTimeoutMs', existing.lockTimeoutMs, options.lockTimeoutMs);
  }
  if (options.logger !== undefined && options.logger !== existing.logger) {
    throw new SessionOptionsConflictError('logger', existing.logger, options.logger);
  }
  if (options.store !== undefined && (!existing.customStore || options.store !== existing.store)) {
    throw new SessionOptionsConflictError('store', existing.store, options.store);
  }
}

/**
 * The process-wide session manager, created on the first call (from anywhere,
 * any thread: worker threads of this process get the same `sessionId`).
 * Later calls with no options, or with options equal to the first call's,
 * return the same manager.
 *
 * @throws SessionOptionsConflictError when `options` differ from the existing manager's.
 * @throws SessionDirUnsafeError when the session directory is unsafe.
 */
export function getSessionManager(options?: SessionManagerOptions): GlobalSessionManager {
  const slot = readSlot();
  if (slot !== undefined) {
    if (options !== undefined) assertSameOptions(slot.manager, options);
    return slot.manager;
  }
  const resolved = resolveSessionOptions(options);
  let seed: SessionIdentitySeed;
  try {
    ensurePrivateDir(resolved.dir);
    seed = joinProcessSession(resolved.dir, resolved.logger);
  } catch (error) {
    if (error instanceof SessionDirUnsafeError) throw error;
    // A full or read-only disk: a session of this thread's own, never an exception.
    resolved.logger.warn(
      { err: error },
      `could not share the session through ${resolved.dir}: ${(error as Error).message}`,
    );
    seed = { sessionId: randomUUID(), createdAt: Date.now(), processFile: null };
  }
  const manager = new GlobalSessionManager(options ?? {}, seed);
  const created: ProcessSessionSlot = { version: sessionPackageVersion(), manager };
  Object.defineProperty(globalThis, SLOT, {
    value: created,
    configurable: true,
    enumerable: false,
    writable: false,
  });
  return manager;
}

/**
 * Whether the process-wide manager exists yet in this thread, created by any
 * loaded copy of @core/session (never creates it).
 * @throws SessionVersionConflictError when it was created by an incompatible major version.
 */
export function isSessionManagerAvailable(): boolean {
  return readSlot() !== undefined;
}

/** An independent session manager with its own new session (not the process singleton): for tests and tools. */
export function createSessionManager(options: SessionManagerOptions = {}): GlobalSessionManager {
  return new GlobalSessionManager(options);
}
