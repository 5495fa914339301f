// Reaping by take-over. A reaper renames a dead session's record to a name
// that says it holds it (`<id>~reaping~<reaper>….json`): rename(2) of one
// source succeeds once, so of any number of reapers exactly one wins. A
// reaper that dies leaves the file under its name; the next reaper judges the
// reaper dead (pid + start time in the name) and renames it to its own name.
//
// Reaping writes skip fsync on purpose: losing one of them to a power cut
// only brings back an earlier state with more resources recorded, which the
// next reaper cleans again (cleanups are idempotent). Nothing can be lost that
// way, and 1,000 dead sessions are reaped without 3,000 disk flushes.
import { linkSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { ReapTakeover, SessionLogger, SessionOwner, SessionRecord, StoredSession } from '../contract.js';
import { SessionTakenOverError, SessionWriteError } from '../errors.js';
import { entryExistsSync, readPrivateFileSync, removeFileSync, writePrivateFileSync } from '../files.js';
import { parseSessionFileName, reapingName, recordName, type StoreLayout } from './layout.js';
import { moveAside, parseRecordRead, serializeRecord } from './records.js';

/**
 * Takes `target` over for `reaper` (see `SessionStore.takeOver`).
 *
 * @returns the hold, or null when another reaper won (the source name is gone).
 */
export function takeOverSync(
  layout: StoreLayout,
  target: StoredSession,
  reaper: SessionOwner,
  logger: SessionLogger,
): ReapTakeover | null {
  const sessionId = target.record.sessionId;
  const parsed = parseSessionFileName(target.version);
  if (parsed.kind === 'other' || parsed.sessionId !== sessionId) return null;
  const from = join(layout.sessionsDir, target.version);
  const held = join(layout.sessionsDir, reapingName(sessionId, reaper));
  if (from !== held) {
    try {
      renameSync(from, held);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new SessionWriteError(from, error);
    }
  }
  const { record, problem } = parseRecordRead(readPrivateFileSync(held));
  if (record === null || record.sessionId !== sessionId) {
    if (problem !== null) moveAside(held, logger, problem);
    return null;
  }
  const ensureHeld = () => {
    if (!entryExistsSync(held)) throw new SessionTakenOverError(sessionId, null);
  };
  return {
    record,
    async save(next: SessionRecord): Promise<void> {
      ensureHeld();
      writePrivateFileSync(held, serializeRecord(next), { fsync: false });
    },
    async finish(remaining: SessionRecord | null): Promise<void> {
      ensureHeld();
      if (remaining === null) {
        removeFileSync(held);
        return;
      }
      writePrivateFileSync(held, serializeRecord(remaining), { fsync: false });
      // Back under the owner's name, reapable again. link(2), not rename: if the
      // owner wrote a record meanwhile (it was alive after all), never replace it;
      // ours then stays under our name and is reaped again once we are gone.
      const home = join(layout.sessionsDir, recordName(sessionId));
      try {
        linkSync(held, home);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
          logger.warn({ sessionId }, `session ${sessionId} wrote a new record while being reaped; kept both`);
          return;
        }
        throw new SessionWriteError(home, error);
      }
      removeFileSync(held);
    },
  };
}
