// Session records of the file store: `sessions/<sessionId>.json`, each
// written only by its owner (whole, atomic), so registering or heartbeating
// takes no shared lock and costs the same with 10 or 5,000 sessions.
import { lstatSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { SessionLogger, SessionOwner, SessionRecord, StoredSession } from '../contract.js';
import { SessionTakenOverError } from '../errors.js';
import {
  entryExistsSync,
  type PrivateRead,
  readPrivateFile,
  readPrivateFileSync,
  removeFileSync,
  syncDirSync,
  writePrivateFileSync,
} from '../files.js';
import { parseWith, SessionRecordSchema, toSessionRecord } from '../schema.js';
import { parseSessionFileName, reapingPrefix, recordName, type StoreLayout } from './layout.js';

/** Serialised record (one line: records are read by machines, and the bench counts bytes). */
export function serializeRecord(record: SessionRecord): string {
  return `${JSON.stringify(record)}\n`;
}

/** Parses a read of a record file; null (with the reason) when missing, unsafe or invalid. */
export function parseRecordRead(read: PrivateRead): { record: SessionRecord | null; problem: string | null } {
  if (read.kind === 'missing') return { record: null, problem: null };
  if (read.kind === 'unsafe') return { record: null, problem: read.reason };
  const parsed = parseWith(SessionRecordSchema, read.text);
  return parsed.ok
    ? { record: toSessionRecord(parsed.value), problem: null }
    : { record: null, problem: parsed.reason };
}

/** Whether a reaper holds `sessionId`'s record (a reaping file exists). Lists the directory: only on the rare path. */
export function findReapingHolder(layout: StoreLayout, sessionId: string): string | null {
  const prefix = reapingPrefix(sessionId);
  let names: string[];
  try {
    names = readdirSync(layout.sessionsDir);
  } catch {
    return null;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const parsed = parseSessionFileName(name);
    if (parsed.kind === 'reaping') return parsed.reaper.sessionId;
  }
  return null;
}

/** State the record writer keeps per session: whether this owner has written its record before. */
export interface RecordWriterState {
  /** Session ids whose record this process wrote and has not removed. */
  readonly written: Set<string>;
}

/**
 * Writes an owner's record. When this owner wrote it before and it is gone
 * now, either a reaper took it (then nothing is written back:
 * `SessionTakenOverError`) or someone deleted it (then it is written again).
 *
 * @throws SessionWriteError | SessionTakenOverError
 */
export function writeRecordFile(
  layout: StoreLayout,
  state: RecordWriterState,
  record: SessionRecord,
  fsync: boolean,
): void {
  const path = join(layout.sessionsDir, recordName(record.sessionId));
  if (state.written.has(record.sessionId) && !entryExistsSync(path)) {
    const holder = findReapingHolder(layout, record.sessionId);
    if (holder !== null) throw new SessionTakenOverError(record.sessionId, holder);
  }
  writePrivateFileSync(path, serializeRecord(record), { fsync });
  state.written.add(record.sessionId);
}

/** Removes an owner's record. @returns whether it was there. */
export function removeRecordFile(
  layout: StoreLayout,
  state: RecordWriterState,
  sessionId: string,
  fsync: boolean,
): boolean {
  const removed = removeFileSync(join(layout.sessionsDir, recordName(sessionId)));
  state.written.delete(sessionId);
  if (removed && fsync) syncDirSync(layout.sessionsDir);
  return removed;
}

/** Reads one record file (no take-over check: a reaping copy is not the owner's record). */
export function readRecordFileSync(
  layout: StoreLayout,
  sessionId: string,
  logger: SessionLogger,
): StoredSession | null {
  const name = recordName(sessionId);
  const { record, problem } = parseRecordRead(readPrivateFileSync(join(layout.sessionsDir, name)));
  if (problem !== null)
    logger.warn({ file: name, reason: problem }, `session record ${name} is unreadable (${problem})`);
  if (record === null || record.sessionId !== sessionId) return null;
  return { record, lease: 'none', version: name };
}

/** Async {@link readRecordFileSync}. */
export async function readRecordFile(
  layout: StoreLayout,
  sessionId: string,
  logger: SessionLogger,
): Promise<StoredSession | null> {
  const name = recordName(sessionId);
  const { record, problem } = parseRecordRead(await readPrivateFile(join(layout.sessionsDir, name)));
  if (problem !== null)
    logger.warn({ file: name, reason: problem }, `session record ${name} is unreadable (${problem})`);
  if (record === null || record.sessionId !== sessionId) return null;
  return { record, lease: 'none', version: name };
}

/**
 * Every record and reaping file in `sessions/`, parsed. Reads only: a corrupt
 * or foreign file is skipped and warned about (moving it aside is `tidy`'s
 * job), a missing directory is an empty list.
 */
export async function listRecordFiles(
  layout: StoreLayout,
  logger: SessionLogger,
  corrupt?: Set<string>,
): Promise<StoredSession[]> {
  let names: string[];
  try {
    names = readdirSync(layout.sessionsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const out: StoredSession[] = [];
  // Reads in bounded batches: thousands of small files, without opening them all at once.
  const BATCH = 64;
  for (let i = 0; i < names.length; i += BATCH) {
    const batch = names.slice(i, i + BATCH);
    const reads = await Promise.all(
      batch.map(async (name) => {
        const parsedName = parseSessionFileName(name);
        if (parsedName.kind === 'other') return null;
        const path = join(layout.sessionsDir, name);
        const { record, problem } = parseRecordRead(await readPrivateFile(path));
        if (problem !== null) {
          logger.warn(
            { file: path, reason: problem },
            `skipped unreadable session file ${path} (${problem})`,
          );
          corrupt?.add(path);
          return null;
        }
        if (record === null || record.sessionId !== parsedName.sessionId) return null;
        if (parsedName.kind === 'record')
          return { record, lease: 'none', version: name } satisfies StoredSession;
        let since = Date.now();
        try {
          since = lstatSync(path).mtimeMs;
        } catch {
          return null; // finished meanwhile
        }
        const by: SessionOwner = {
          sessionId: parsedName.reaper.sessionId,
          pid: parsedName.reaper.pid,
          hostname: '',
          hostId: parsedName.reaper.hostId,
          processStartTime: parsedName.reaper.processStartTime,
          createdAt: since,
        };
        return {
          record,
          lease: 'none',
          version: name,
          reaping: { by, since, lease: 'none' },
        } satisfies StoredSession;
      }),
    );
    for (const read of reads) if (read !== null) out.push(read as StoredSession);
  }
  return out;
}

/** Moves a corrupt file aside (kept for inspection). */
export function moveAside(path: string, logger: SessionLogger, reason: string): void {
  const target = `${path}.corrupt-${Date.now()}`;
  try {
    renameSync(path, target);
    logger.warn(
      { file: path, movedTo: target, reason },
      `session file ${path} was unreadable (${reason}); kept it as ${target}`,
    );
  } catch {
    // gone meanwhile
  }
}
