import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod/mini';
import type { SessionLogger } from './contract.js';
import type { FileSessionStore } from './file-store/store.js';
import { readPrivateFileSync, removeDeadTempFiles, removeFileSync, writePrivateFileSync } from './files.js';
import { parseWith, type TrackerFile, TrackerFileSchema } from './schema.js';
import { judgeSession } from './staleness.js';

const IDENTITY = z.pick(TrackerFileSchema, {
  pid: true,
  hostname: true,
  processStartTime: true,
  createdAt: true,
});
const LEFTOVER = /^(tracker|process)-[^/]+\.json$/;

/**
 * Removes files of processes that are gone: tracker and per-process identity
 * files of sessions killed before they registered anything (so no registry
 * entry leads to them), and temp files of writers killed between create and
 * rename. Judged by the process only (pid + start time on this host): a live
 * process keeps its files whatever its age, and a file that does not parse is
 * left for a person to look at.
 *
 * @returns how many files were removed.
 */
export function removeLeftoverFiles(dir: string, hostname: string): number {
  let removed = 0;
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    if (!LEFTOVER.test(name)) continue;
    const path = join(dir, name);
    const read = readPrivateFileSync(path);
    if (read.kind !== 'ok') continue;
    const parsed = parseWith(IDENTITY, read.text);
    if (!parsed.ok) continue;
    if (judgeSession(parsed.value, { now, maxAgeMs: Number.POSITIVE_INFINITY, hostname }) !== 'stale')
      continue;
    if (removeFileSync(path)) removed++;
  }
  return removed + removeDeadTempFiles(dir, 10_000);
}

/** Writes this session's tracker file (best effort: a full disk is warned about, never thrown). */
export function writeTrackerFile(file: string, tracker: TrackerFile, logger: SessionLogger): void {
  try {
    writePrivateFileSync(file, `${JSON.stringify(tracker)}\n`, { fsync: false });
  } catch (error) {
    logger.warn({ err: error, file }, `could not write the session tracker: ${(error as Error).message}`);
  }
}

/** Removes this session's own files (tracker, process identity). */
export function removeOwnFiles(files: readonly (string | null)[], logger: SessionLogger): void {
  for (const file of files) {
    if (file === null) continue;
    try {
      removeFileSync(file);
    } catch (error) {
      logger.warn({ err: error, file }, `could not remove session file ${file}`);
    }
  }
}

/** Temp files of writers that died mid-write, tracker and process files of dead sessions (file store only). */
export function tidyDirectory(
  store: FileSessionStore,
  dir: string,
  hostname: string,
  logger: SessionLogger,
): void {
  try {
    store.tidy();
    removeLeftoverFiles(dir, hostname);
  } catch (error) {
    logger.warn({ err: error, dir }, `could not tidy the session directory: ${(error as Error).message}`);
  }
}
