// The read-only view of every session: what `status` shows. Creates no files
// or directories, moves nothing aside, removes nothing.
import type { HostIdentity, SessionListing, SessionStore, StoredSession } from './contract.js';
import { listEarlierSessions } from './file-store/earlier-locations.js';
import { readLegacySessions } from './file-store/migration.js';
import { FileSessionStore } from './file-store/store.js';
import { readHostIdentity } from './host.js';
import { defaultImportFrom, resolveSessionDir } from './options.js';

const SILENT = { warn() {} };

import { judgeLiveness } from './staleness.js';

/** Judges one stored session for the listing. */
export function judgeStored(
  stored: StoredSession,
  context: { readonly now: number; readonly maxAgeMs: number; readonly host: HostIdentity },
): SessionListing {
  const verdict = judgeLiveness(stored.record, { ...context, lease: stored.lease });
  return {
    record: stored.record,
    liveness: verdict.liveness,
    reason: verdict.reason,
    thisHost: verdict.thisHost,
    reaping: stored.reaping ? { by: stored.reaping.by.sessionId, since: stored.reaping.since } : undefined,
  };
}

/** Options of {@link listSessions}. */
export interface ListSessionsOptions {
  /** Session directory of the file store (default: `CORE_SESSION_DIR`, else the per-user default). Ignored with `store`. */
  readonly dir?: string;
  /** Earlier locations of the directory whose sessions are not imported yet (see `FileSessionStoreOptions.importFrom`; default: as `getSessionManager` would import). */
  readonly importFrom?: readonly string[];
  /** A store to list instead of the file store (e.g. a `RedisSessionStore`). */
  readonly store?: SessionStore;
  /** Clock (epoch ms), for tests. */
  readonly now?: () => number;
  /** Age limit for sessions that cannot be verified here (default 12). */
  readonly maxSessionAgeHours?: number;
}

/**
 * Every session with its liveness: `live` (verified here, or leased),
 * `dead` (provably gone), `unknown` (cannot tell; left alone). Side-effect
 * free: creates no files or directories (a missing directory lists as
 * empty), and sessions still in a not yet imported v1 `registry.json` are
 * listed from it without importing it.
 */
export async function listSessions(options: ListSessionsOptions = {}): Promise<SessionListing[]> {
  const store =
    options.store ??
    new FileSessionStore({
      dir: resolveSessionDir(options.dir),
      create: false,
      importFrom: options.importFrom ?? defaultImportFrom(options.dir),
    });
  const maxAgeMs = (options.maxSessionAgeHours ?? 12) * 3_600_000;
  if (!Number.isFinite(maxAgeMs) || maxAgeMs <= 0)
    throw new RangeError(
      `listSessions: "maxSessionAgeHours" must be a positive number, got ${JSON.stringify(options.maxSessionAgeHours)}`,
    );
  const listed = await store.listSessions();
  if (store instanceof FileSessionStore) {
    const seen = new Set(listed.map((s) => s.record.sessionId));
    for (const record of readLegacySessions(store.location))
      if (!seen.has(record.sessionId)) listed.push({ record, lease: 'none', version: 'registry.json' });
    for (const stored of listEarlierSessions(store.importFrom, SILENT))
      if (!seen.has(stored.record.sessionId)) listed.push(stored);
  }
  const context = { now: (options.now ?? Date.now)(), maxAgeMs, host: readHostIdentity() };
  return listed.map((stored) => judgeStored(stored, context));
}
