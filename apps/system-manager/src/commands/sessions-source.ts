// The ONE place read-only commands (status, ports, doctor) get session
// listings from: @core/session's `listSessions`, which creates no files. A
// missing or empty session directory lists nothing without loading
// @core/session (and zod) at all; the package is loaded through
// ./session-listing.js, whose named imports let the read-only bundle keep
// only the listing code (scripts/bundle-read-only.mjs).

import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SessionRecord } from '@core/session';
import { EARLIER_SYSTEM_SESSION_DIR, SYSTEM_SESSION_DIR } from '../unit/unit-file.js';

/** How a listed session looks from here. */
export type Liveness = 'live' | 'dead' | 'unknown';

/** One session as listed (@core/session's `SessionListing`, as far as the commands use it). */
export interface SessionListing {
  readonly record: SessionRecord;
  readonly liveness: Liveness;
  /** Why it was judged so, for people. */
  readonly reason: string;
  readonly thisHost: boolean;
}

/** Options of {@link listSessions}. */
export interface ListSessionsOptions {
  /** Session directory (default: $CORE_SESSION_DIR or the per-user state directory). */
  readonly dir?: string | undefined;
  /** Earlier locations of `dir` still listed (default {@link earlierSessionDirs} of `dir`). */
  readonly importFrom?: readonly string[] | undefined;
  /** A session store (the fleet's Redis or etcd store); wins over `dir`. */
  readonly store?: ListableStore | undefined;
  readonly now?: () => number;
  /** Told about a directory or file that was skipped (unsafe, corrupt). */
  readonly warn?: (message: string) => void;
  /** Accept a directory owned by another uid (root listing every user's sessions). */
  readonly anyOwner?: boolean;
}

/** A session store to list (structural: the Redis and etcd stores fit). */
export interface ListableStore {
  /** Where it is, for messages. */
  readonly location: string;
}

// The per-user default of @core/session, in its words (`defaultSessionDir`):
// written out here so that a missing directory answers without loading it.
function userSessionDir(env: NodeJS.ProcessEnv, home: string): string {
  const state = env['XDG_STATE_HOME'];
  const base = state !== undefined && path.isAbsolute(state) ? state : path.join(home, '.local', 'state');
  return path.join(base, 'system-manager');
}

/** Where @core/session kept a user's sessions before they moved to the state directory (emptied at reboot). */
function legacyUserSessionDir(): string {
  const user = typeof process.getuid === 'function' ? String(process.getuid()) : os.userInfo().username;
  return path.join(os.tmpdir(), `core-session-${user}`);
}

/** The session directory @core/session uses by default (same rule as its `resolveSessionDir`). */
export function defaultSessionDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['CORE_SESSION_DIR'];
  if (fromEnv !== undefined && fromEnv !== '') return path.resolve(fromEnv);
  return userSessionDir(env, os.homedir());
}

/**
 * The earlier locations whose sessions a registry in `dir` imports (and the
 * listing shows until then): the boot unit's `/run` directory for the unit's
 * state directory, the old per-user temp-dir folder for the per-user default.
 */
export function earlierSessionDirs(dir: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const resolved = path.resolve(dir);
  if (resolved === SYSTEM_SESSION_DIR) return [EARLIER_SYSTEM_SESSION_DIR];
  if (resolved === userSessionDir(env, os.homedir())) return [legacyUserSessionDir()];
  return [];
}

/**
 * Every session directory of this machine: each user's state directory (home
 * directories from /etc/passwd), the old per-user folders under the OS temp
 * dir, the boot unit's earlier `/run` directory, plus `extra` (the unit's).
 */
export function allUsersSessionDirs(extra: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const dir of extra) dirs.add(path.resolve(dir));
  for (const home of homeDirectories()) dirs.add(userSessionDir({}, home));
  try {
    for (const name of readdirSync(os.tmpdir()))
      if (/^core-session-\d+$/.test(name)) dirs.add(path.join(os.tmpdir(), name));
  } catch {
    // An unreadable temp dir lists nothing more.
  }
  dirs.add(EARLIER_SYSTEM_SESSION_DIR);
  return [...dirs];
}

// Home directories of the accounts in /etc/passwd (the sixth field), absolute ones only.
function homeDirectories(): string[] {
  let text = '';
  try {
    text = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return [os.homedir()];
  }
  const homes = new Set([os.homedir()]);
  for (const line of text.split('\n')) {
    const home = line.split(':')[5];
    if (home !== undefined && path.isAbsolute(home) && home !== '/') homes.add(path.normalize(home));
  }
  return [...homes];
}

/** Whether a session directory can be trusted and holds anything; nothing is created or followed. */
function inspectDir(dir: string, anyOwner: boolean): 'missing' | 'empty' | 'ok' | { skip: string } {
  let stats: ReturnType<typeof lstatSync>;
  try {
    stats = lstatSync(dir);
  } catch {
    return 'missing'; // nothing registered, and nothing is created here
  }
  if (stats.isSymbolicLink()) return { skip: `${dir} is a symbolic link: not followed` };
  if (!stats.isDirectory()) return { skip: `${dir} is not a directory` };
  const uid = typeof process.getuid === 'function' ? process.getuid() : stats.uid;
  if (stats.uid !== uid && !anyOwner)
    return { skip: `${dir} is owned by uid ${stats.uid}, not by you (uid ${uid})` };
  if ((stats.mode & 0o022) !== 0) return { skip: `${dir} is writable by other users: not trusted` };
  try {
    return readdirSync(dir).length === 0 ? 'empty' : 'ok';
  } catch (error) {
    return { skip: `${dir}: ${(error as Error).message}` };
  }
}

/** Lists sessions without taking a lock, reaping, quarantining or creating anything. */
export async function listSessions(options: ListSessionsOptions = {}): Promise<SessionListing[]> {
  const now = options.now ?? Date.now;
  if (options.store) {
    const { listSessions: list } = await import('./session-listing.js');
    return (await list({ store: options.store as never, now })) as SessionListing[];
  }
  const dir = path.resolve(options.dir ?? defaultSessionDir());
  const importFrom = (options.importFrom ?? earlierSessionDirs(dir)).filter(
    (earlier) => inspectDir(earlier, options.anyOwner === true) === 'ok',
  );
  const state = inspectDir(dir, options.anyOwner === true);
  // Nothing there: answer without loading @core/session (and zod) at all.
  if ((state === 'missing' || state === 'empty') && importFrom.length === 0) return [];
  if (typeof state === 'object') {
    options.warn?.(state.skip);
    return [];
  }
  const { listSessions: list } = await import('./session-listing.js');
  try {
    return (await list({ dir, now, importFrom })) as SessionListing[];
  } catch (error) {
    options.warn?.(`${dir}: ${(error as Error).message}`);
    return [];
  }
}
