import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readPrivateFileSync, removeDeadTempFiles, removeFileSync } from './files.js';
import { parseWith, TrackerFileSchema } from './schema.js';
import { judgeSession } from './staleness.js';

const IDENTITY = TrackerFileSchema.pick({
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
