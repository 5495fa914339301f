import { homedir, tmpdir, userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { SessionLogger, SessionStore } from './contract.js';

/** Options of a session manager. */
export interface SessionManagerOptions {
  /**
   * Private directory of the session files. Default: env `CORE_SESSION_DIR`,
   * else `$XDG_STATE_HOME/system-manager` (`~/.local/state/system-manager`):
   * persistent storage, so a VM recorded before a reboot is still found after it.
   */
  readonly dir?: string;
  /** Sessions older than this are stale (default 12). */
  readonly maxSessionAgeHours?: number;
  /** Where warnings go (corrupt files moved aside, failed registrations); default silent. */
  readonly logger?: SessionLogger;
  /**
   * Accepted and ignored: the registry takes no shared lock (each session
   * writes only its own record), so there is nothing to time out.
   * @deprecated Remove it; it has no effect.
   */
  readonly lockTimeoutMs?: number;
  /** The store; default a `FileSessionStore` in `dir`. */
  readonly store?: SessionStore;
  /**
   * Earlier locations of the session directory whose sessions are imported
   * (see `FileSessionStoreOptions.importFrom`). Default: the old per-user
   * default under the OS temp dir when `dir` is the default, else none.
   */
  readonly importFrom?: readonly string[];
}

const SILENT: SessionLogger = { warn() {} };

/** The session directory the options (or `CORE_SESSION_DIR`, or the default) select, as an absolute path. */
export function resolveSessionDir(dir?: string): string {
  if (dir !== undefined) {
    if (typeof dir !== 'string' || dir === '')
      throw new TypeError(`session option "dir" must be a non-empty path, got ${JSON.stringify(dir)}`);
    return resolve(dir);
  }
  const fromEnv = process.env['CORE_SESSION_DIR'];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  return defaultSessionDir();
}

/**
 * The per-user default session directory: `$XDG_STATE_HOME/system-manager`,
 * else `~/.local/state/system-manager` (the XDG base directory rule: a
 * relative `XDG_STATE_HOME` is ignored). Shared with the system-manager app,
 * which keeps its service logs beside it.
 */
export function defaultSessionDir(): string {
  const state = process.env['XDG_STATE_HOME'];
  const base = state !== undefined && isAbsolute(state) ? state : join(homedir(), '.local', 'state');
  return join(base, 'system-manager');
}

/**
 * Where earlier versions kept the per-user default: under the OS temp dir,
 * wiped at reboot. Sessions found there are imported into the default
 * directory (see `importSessions`).
 */
export function legacyDefaultSessionDir(): string {
  const user = typeof process.getuid === 'function' ? String(process.getuid()) : userInfo().username;
  return join(tmpdir(), `core-session-${user}`);
}

/**
 * The earlier locations a directory chosen by `dir` (see
 * {@link resolveSessionDir}) imports from: the old per-user default under
 * the OS temp dir when the default is in use, none otherwise.
 */
export function defaultImportFrom(dir?: string): string[] {
  if (dir !== undefined) return [];
  const fromEnv = process.env['CORE_SESSION_DIR'];
  if (fromEnv !== undefined && fromEnv !== '') return [];
  return [legacyDefaultSessionDir()];
}

/** Validated, defaulted options. */
export interface ResolvedSessionOptions {
  readonly dir: string;
  readonly maxSessionAgeHours: number;
  readonly lockTimeoutMs: number;
  readonly logger: SessionLogger;
  readonly store: SessionStore | undefined;
  readonly importFrom: readonly string[];
}

/** Validates options and applies defaults. @throws TypeError / RangeError */
export function resolveSessionOptions(options: SessionManagerOptions = {}): ResolvedSessionOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`session options must be an object, got ${JSON.stringify(options)}`);
  }
  const maxSessionAgeHours = options.maxSessionAgeHours ?? 12;
  if (
    typeof maxSessionAgeHours !== 'number' ||
    !Number.isFinite(maxSessionAgeHours) ||
    maxSessionAgeHours <= 0
  ) {
    throw new RangeError(
      `session option "maxSessionAgeHours" must be a positive number of hours, got ${JSON.stringify(maxSessionAgeHours)}`,
    );
  }
  const lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
  if (typeof lockTimeoutMs !== 'number' || !Number.isFinite(lockTimeoutMs) || lockTimeoutMs < 0) {
    throw new RangeError(
      `session option "lockTimeoutMs" must be a non-negative number of ms, got ${JSON.stringify(lockTimeoutMs)}`,
    );
  }
  const logger = options.logger ?? SILENT;
  if (typeof logger.warn !== 'function')
    throw new TypeError('session option "logger" must have a warn(obj, msg) method');
  const importFrom = options.importFrom ?? defaultImportFrom(options.dir);
  if (!Array.isArray(importFrom) || importFrom.some((dir) => typeof dir !== 'string' || dir === ''))
    throw new TypeError(
      `session option "importFrom" must be a list of directories, got ${JSON.stringify(importFrom)}`,
    );
  return {
    dir: resolveSessionDir(options.dir),
    maxSessionAgeHours,
    lockTimeoutMs,
    logger,
    store: options.store,
    importFrom,
  };
}
