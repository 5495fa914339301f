import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { SessionLogger, SessionStore } from './contract.js';

/** Options of a session manager. */
export interface SessionManagerOptions {
  /** Private directory of the session files. Default: env `CORE_SESSION_DIR`, else `<os.tmpdir()>/core-session-<uid>`. */
  readonly dir?: string;
  /** Sessions older than this are stale (default 12). */
  readonly maxSessionAgeHours?: number;
  /** Where warnings go (corrupt files moved aside, failed registrations); default silent. */
  readonly logger?: SessionLogger;
  /**
   * v1 option, accepted and ignored: v2 takes no shared lock (each session
   * writes only its own record). Kept so existing callers keep compiling.
   * @deprecated
   */
  readonly lockTimeoutMs?: number;
  /** The store; default a `FileSessionStore` in `dir`. */
  readonly store?: SessionStore;
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
  const user = typeof process.getuid === 'function' ? String(process.getuid()) : userInfo().username;
  return join(tmpdir(), `core-session-${user}`);
}

/** Validated, defaulted options. */
export interface ResolvedSessionOptions {
  readonly dir: string;
  readonly maxSessionAgeHours: number;
  readonly lockTimeoutMs: number;
  readonly logger: SessionLogger;
  readonly store: SessionStore | undefined;
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
  return {
    dir: resolveSessionDir(options.dir),
    maxSessionAgeHours,
    lockTimeoutMs,
    logger,
    store: options.store,
  };
}
