import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPrivateFileSync } from '../src/files.js';
import { createSessionManager, FileRegistryStore } from '../src/index.js';
import {
  ProcessFileSchema,
  parseWith,
  RegistryFileSchema,
  SessionRecordSchema,
  TrackerFileSchema,
} from '../src/schema.js';
import { freshDir, killHard, runFixture } from './helpers.js';

const SCHEMAS = [
  [/^registry\.json$/, RegistryFileSchema],
  [/^session-.+\.json$/, SessionRecordSchema],
  [/^tracker-.+\.json$/, TrackerFileSchema],
  [/^process-.+\.json$/, ProcessFileSchema],
] as const;

/** Every session file in `dir` parses against its schema; returns how many were checked. */
function checkEveryFileParses(dir: string): number {
  let checked = 0;
  for (const name of readdirSync(dir)) {
    const schema = SCHEMAS.find(([pattern]) => pattern.test(name))?.[1];
    if (schema === undefined) continue;
    const read = readPrivateFileSync(join(dir, name));
    if (read.kind !== 'ok') throw new Error(`${name}: ${read.kind}`);
    const parsed = parseWith(schema as never, read.text);
    if (!parsed.ok) throw new Error(`${name} is torn or invalid: ${parsed.reason}\n${read.text}`);
    checked++;
  }
  return checked;
}

describe('a writer killed with SIGKILL at random moments', () => {
  it('leaves every file parseable, 30 kills, and the registry usable', { timeout: 60_000 }, async () => {
    const dir = freshDir();
    // 6 batches of 5 writers on the same directory; each is killed at its own random moment,
    // so kills land while writing, while holding the lock and while waiting for it.
    for (let batch = 0; batch < 6; batch++) {
      const writers = Array.from({ length: 5 }, () => runFixture('writer', [dir]));
      await Promise.all(
        writers.map(async (writer) => {
          await writer.line();
          await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 80));
          await killHard(writer);
        }),
      );
      expect(checkEveryFileParses(dir)).toBeGreaterThan(0);
    }
    // A dead lock holder never blocks the next manager: it registers at once and reaps the dead.
    const survivor = createSessionManager({ dir, lockTimeoutMs: 2_000 });
    expect(await survivor.registerVm('vm-after', 'zone-a', [])).toBe(true);
    const removed = await survivor.cleanupStaleSessions();
    expect(removed).toBeGreaterThan(0);
    const left = Object.keys(new FileRegistryStore({ dir }).loadSync().sessions);
    expect(left).toEqual([survivor.sessionId]);
    expect(checkEveryFileParses(dir)).toBeGreaterThan(0);
  });
});
