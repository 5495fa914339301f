// The ONE place read-only commands (status, ports, doctor) get session
// listings from, with the signature of @core/session's `listSessions`
// (session v2). When the installed @core/session has that function it is
// used; otherwise the listing is built here on the v1 API (registry.json +
// judgeSession). Either way it creates no files, and a missing or empty
// session directory lists nothing without loading @core/session (and zod).
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SessionRecord } from '@core/session';

/** How a listed session looks from here. */
export type Liveness = 'live' | 'dead' | 'unknown';

/** One session as listed (the shape of @core/session's upcoming `SessionListing`). */
export interface SessionListing {
  readonly record: SessionRecord;
  readonly liveness: Liveness;
  /** Why it was judged so, for people. */
  readonly reason: string;
  readonly thisHost: boolean;
}

/** Options of {@link listSessions}. */
export interface ListSessionsOptions {
  /** Session directory (default: $CORE_SESSION_DIR or the per-user folder under the OS temp dir). */
  readonly dir?: string | undefined;
  /** A registry store (the fleet's Redis store); wins over `dir`. */
  readonly store?: ListableStore | undefined;
  readonly now?: () => number;
  /** Told about a directory or file that was skipped (unsafe, corrupt). */
  readonly warn?: (message: string) => void;
  /** Accept a directory owned by another uid (root listing every user's sessions). */
  readonly anyOwner?: boolean;
}

/**
 * The slice of a session store the listing uses. Structural, so both the v1
 * `RegistryStore` (and its Redis store) and the v2 `SessionStore` fit.
 */
export interface ListableStore {
  /** Where it is, for messages. */
  readonly location: string;
  /** v1: every record. */
  list?(): Promise<readonly SessionRecord[]>;
  /** v1 Redis store: every record with whether its lease is live. */
  listSessions?(): Promise<readonly unknown[]>;
  /** v1: a lease store's own verdict. */
  judgeSession?(record: SessionRecord, now: number): 'live' | 'stale' | undefined;
}

/** Sessions older than this (since their last heartbeat) are dead unless verified alive here; @core/session's default. */
const MAX_AGE_MS = 12 * 3_600_000;

/** The session directory @core/session uses by default (same rule as its `resolveSessionDir`). */
export function defaultSessionDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['CORE_SESSION_DIR'];
  if (fromEnv !== undefined && fromEnv !== '') return path.resolve(fromEnv);
  const user = typeof process.getuid === 'function' ? String(process.getuid()) : os.userInfo().username;
  return path.join(os.tmpdir(), `core-session-${user}`);
}

/** Every user's default session directory under the OS temp dir, plus `extra` (e.g. the boot unit's). */
export function allUsersSessionDirs(extra: readonly string[]): string[] {
  const dirs = new Set<string>();
  try {
    for (const name of readdirSync(os.tmpdir()))
      if (/^core-session-\d+$/.test(name)) dirs.add(path.join(os.tmpdir(), name));
  } catch {
    // An unreadable temp dir lists nothing more.
  }
  for (const dir of extra) dirs.add(path.resolve(dir));
  return [...dirs];
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

function readRegistryText(dir: string): { text: string } | { skip: string } | null {
  const file = path.join(dir, 'registry.json');
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    return {
      skip: `${file}: ${code === 'ELOOP' ? 'a symbolic link, not followed' : (error as Error).message}`,
    };
  }
  try {
    if (!fstatSync(fd).isFile()) return { skip: `${file} is not a regular file` };
    return { text: readFileSync(fd, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

/** The package's own read-only listing (session v2's `listSessions`), when the installed @core/session has one. */
type PackageListing = (options: {
  dir?: string;
  store?: unknown;
  now?: () => number;
}) => Promise<SessionListing[]>;

async function packageListing(): Promise<PackageListing | null> {
  const session = (await import('@core/session')) as unknown as Record<string, unknown>;
  return typeof session['listSessions'] === 'function' ? (session['listSessions'] as PackageListing) : null;
}

const VERDICT: Record<string, { liveness: Liveness; reason: string }> = {
  live: { liveness: 'live', reason: 'its process is running (same pid and start time)' },
  stale: { liveness: 'dead', reason: 'its process is gone, its pid was reused, or it is older than 12 h' },
  remote: { liveness: 'unknown', reason: 'another host: its pid cannot be checked from here' },
};

/** Lists sessions without taking a lock, reaping, quarantining or creating anything. */
export async function listSessions(options: ListSessionsOptions = {}): Promise<SessionListing[]> {
  const now = options.now ?? Date.now;
  const hostname = os.hostname();
  let records: SessionRecord[];
  if (options.store) {
    const own = await packageListing();
    if (own) return own({ store: options.store, now });
  }
  if (options.store?.listSessions) {
    // A lease store judges by lease, which only it can read.
    const fleet = (await options.store.listSessions()) as readonly { record: SessionRecord; live: boolean }[];
    return fleet.map(({ record, live }) => ({
      record,
      liveness: live ? ('live' as const) : ('dead' as const),
      reason: live ? 'its lease is current' : 'its lease expired',
      thisHost: record.hostname === hostname,
    }));
  }
  if (options.store) {
    records = [...((await options.store.list?.()) ?? [])];
  } else {
    const dir = path.resolve(options.dir ?? defaultSessionDir());
    const state = inspectDir(dir, options.anyOwner === true);
    // Nothing there: answer without loading @core/session (and zod) at all.
    if (state === 'missing' || state === 'empty') return [];
    if (typeof state === 'object') {
      options.warn?.(state.skip);
      return [];
    }
    const own = await packageListing();
    if (own) {
      try {
        return await own({ dir, now });
      } catch (error) {
        options.warn?.(`${dir}: ${(error as Error).message}`);
        return [];
      }
    }
    const read = readRegistryText(dir);
    if (read === null) return [];
    if ('skip' in read) {
      options.warn?.(read.skip);
      return [];
    }
    records = [];
    let sessions: Record<string, unknown> = {};
    try {
      const json = JSON.parse(read.text) as { sessions?: Record<string, unknown> };
      sessions = json.sessions ?? {};
    } catch (error) {
      options.warn?.(`${dir}/registry.json is not JSON (${(error as Error).message}): skipped`);
    }
    // @core/session (and zod with it) is loaded only once there is a record to check.
    const { parseSessionRecord } =
      Object.keys(sessions).length > 0 ? await import('@core/session') : { parseSessionRecord: undefined };
    for (const [id, value] of Object.entries(sessions)) {
      const parsed = (parseSessionRecord as NonNullable<typeof parseSessionRecord>)(JSON.stringify(value));
      if (parsed.ok && parsed.value.sessionId === id) records.push(parsed.value);
      else options.warn?.(`session ${id} in ${dir}/registry.json is corrupt: skipped`);
    }
  }
  if (records.length === 0) return [];
  const { judgeSession: judge } = await import('@core/session');
  return records.map((record) => {
    const lease = options.store?.judgeSession?.(record, now());
    const verdict =
      lease === 'stale'
        ? { liveness: 'dead' as const, reason: 'its lease expired' }
        : lease === 'live'
          ? { liveness: 'live' as const, reason: 'its lease is current' }
          : (VERDICT[judge(record, { now: now(), maxAgeMs: MAX_AGE_MS, hostname })] as {
              liveness: Liveness;
              reason: string;
            });
    return { record, ...verdict, thisHost: record.hostname === hostname };
  });
}
