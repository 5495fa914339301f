// Sessions left in a directory an earlier version used by default (the OS
// temp dir, /run): both are wiped at reboot, so their records are brought
// into the persistent directory where a later cleanup still finds them.
//
// Only sessions that are not live are moved: a live owner still writes its
// record where it started, and is imported by a later run once it is gone.
// Each record is created in the new directory by exclusive create (never over
// a record already there), and only then renamed aside in the old one
// (`<name>.imported-<ms>`, kept): a crash between the two steps leaves the
// record in both places, never in neither.
import { lstatSync, readdirSync, renameSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { HostIdentity, SessionLogger, SessionOwner, SessionRecord, StoredSession } from '../contract.js';
import { createExclusiveFileSync, readPrivateFileSync } from '../files.js';
import { judgeLiveness } from '../staleness.js';
import { layoutOf, parseSessionFileName, recordName, type StoreLayout } from './layout.js';
import { parseRecordRead, serializeRecord } from './records.js';

/** Why a directory (its lstat) cannot be trusted, or null when it is private to this user. */
function untrusted(stats: Stats): string | null {
  if (stats.isSymbolicLink()) return 'it is a symbolic link';
  if (!stats.isDirectory()) return 'it is not a directory';
  if (typeof process.getuid === 'function' && stats.uid !== process.getuid())
    return `it is owned by uid ${stats.uid}, not by this user`;
  if ((stats.mode & 0o022) !== 0) return 'other users can write into it';
  return null;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** One session file found in an earlier location. */
interface EarlierSession {
  readonly path: string;
  readonly stored: StoredSession;
  /** The reaper named by a reaping file's name (judged like any owner; its createdAt is the file's mtime). */
  readonly reaper: SessionOwner | null;
}

/**
 * The session files of `dir` (an earlier location) that can be trusted: the
 * directory and its `sessions/` private to this user, each file a regular
 * file (never followed) that parses as a record. Reaping files count too: a
 * reaper that was interrupted left the record under its name.
 */
function readEarlierSessions(dir: string, logger: SessionLogger): EarlierSession[] {
  const layout = layoutOf(dir);
  for (const path of [layout.dir, layout.sessionsDir]) {
    const stats = lstatOrNull(path);
    if (stats === null) return [];
    const problem = untrusted(stats);
    if (problem !== null) {
      logger.warn({ dir: path, reason: problem }, `not importing sessions from ${path}: ${problem}`);
      return [];
    }
  }
  let names: string[];
  try {
    names = readdirSync(layout.sessionsDir);
  } catch (error) {
    logger.warn({ err: error, dir: layout.sessionsDir }, `cannot list ${layout.sessionsDir}`);
    return [];
  }
  const found: EarlierSession[] = [];
  for (const name of names) {
    const parsedName = parseSessionFileName(name);
    if (parsedName.kind === 'other') continue;
    const path = join(layout.sessionsDir, name);
    const { record, problem } = parseRecordRead(readPrivateFileSync(path));
    if (record === null || record.sessionId !== parsedName.sessionId) {
      if (problem !== null) logger.warn({ file: path, reason: problem }, `not importing ${path}: ${problem}`);
      continue;
    }
    const reaper: SessionOwner | null =
      parsedName.kind === 'reaping'
        ? {
            sessionId: parsedName.reaper.sessionId,
            pid: parsedName.reaper.pid,
            hostname: '',
            hostId: parsedName.reaper.hostId,
            processStartTime: parsedName.reaper.processStartTime,
            createdAt: lstatOrNull(path)?.mtimeMs ?? Date.now(),
          }
        : null;
    found.push({ path, stored: { record, lease: 'none', version: path }, reaper });
  }
  return found;
}

/**
 * The sessions still in the earlier locations, read only (what `status`
 * lists before a cleanup has imported them). A session also present in the
 * current directory is the current directory's.
 */
export function listEarlierSessions(earlierDirs: readonly string[], logger: SessionLogger): StoredSession[] {
  const seen = new Set<string>();
  const out: StoredSession[] = [];
  for (const dir of earlierDirs)
    for (const { stored } of readEarlierSessions(dir, logger)) {
      if (seen.has(stored.record.sessionId)) continue;
      seen.add(stored.record.sessionId);
      out.push(stored);
    }
  return out;
}

/**
 * Moves the sessions of the earlier locations that are not live into
 * `layout`. @returns how many records were imported.
 */
export function importEarlierSessions(
  layout: StoreLayout,
  earlierDirs: readonly string[],
  context: { readonly host: HostIdentity; readonly maxAgeMs: number; readonly logger: SessionLogger },
): number {
  let imported = 0;
  for (const dir of earlierDirs) {
    if (dir === layout.dir) continue;
    for (const { path, stored, reaper } of readEarlierSessions(dir, context.logger)) {
      const judge = {
        now: Date.now(),
        maxAgeMs: context.maxAgeMs,
        host: context.host,
        lease: 'none',
      } as const;
      if (judgeLiveness(stored.record, judge).liveness === 'live') continue;
      // A reaper at work there finishes there; one that may still be at work is left to it.
      if (reaper !== null && judgeLiveness(reaper, judge).liveness !== 'dead') continue;
      if (importOne(layout, path, stored.record, context.logger)) imported++;
    }
  }
  if (imported > 0)
    context.logger.info?.(
      { imported, from: earlierDirs, dir: layout.dir },
      `imported ${imported} session(s) from earlier locations into ${layout.dir}`,
    );
  return imported;
}

/** Creates the record in the new directory, then moves the old file aside. */
function importOne(layout: StoreLayout, path: string, record: SessionRecord, logger: SessionLogger): boolean {
  const target = join(layout.sessionsDir, recordName(record.sessionId));
  let created: boolean;
  try {
    created = createExclusiveFileSync(target, serializeRecord(record), { fsync: true });
  } catch (error) {
    // A full disk: the record stays where it is, and the next run tries again.
    logger.warn({ err: error, file: path }, `could not import ${path}: ${(error as Error).message}`);
    return false;
  }
  if (!created)
    logger.warn(
      { file: path, existing: target },
      `session ${record.sessionId} is already recorded in ${target}: the earlier copy ${path} is kept aside`,
    );
  try {
    renameSync(path, `${path}.imported-${Date.now()}`);
  } catch (error) {
    // Imported again next time: the exclusive create then finds it and only moves it aside.
    logger.warn({ err: error, file: path }, `imported ${path} but could not move it aside`);
  }
  return created;
}
