import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readPrivateFileSync } from '../src/files.js';
import { createSessionManager, listSessions } from '../src/index.js';
import {
  ClaimFileSchema,
  ProcessFileSchema,
  parseWith,
  SessionRecordSchema,
  TrackerFileSchema,
} from '../src/schema.js';
import { type Fixture, freshDir, killHard, plantRecord, recordOf, runFixture } from './helpers.js';

const started: Fixture[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((f) => killHard(f)));
});
function run(name: string, args: string[]): Fixture {
  const fixture = runFixture(name, args);
  started.push(fixture);
  return fixture;
}

const SCHEMAS = [
  ['', /^tracker-.+\.json$/, TrackerFileSchema],
  ['', /^process-.+\.json$/, ProcessFileSchema],
  ['sessions', /^[^.].*\.json$/, SessionRecordSchema],
  ['claims', /^[^.].*\.json$/, ClaimFileSchema],
  ['claims', /^\..+\.next-[0-9a-f]+$/, ClaimFileSchema],
] as const;

/** Every session file in `dir` parses against its schema; returns how many were checked. */
function checkEveryFileParses(dir: string): number {
  let checked = 0;
  for (const [sub, pattern, schema] of SCHEMAS) {
    let names: string[];
    try {
      names = readdirSync(join(dir, sub));
    } catch {
      continue;
    }
    for (const name of names) {
      if (!pattern.test(name)) continue;
      const read = readPrivateFileSync(join(dir, sub, name));
      if (read.kind === 'missing') continue;
      if (read.kind !== 'ok') throw new Error(`${name}: ${read.kind}`);
      const parsed = parseWith(schema as never, read.text);
      if (!parsed.ok) throw new Error(`${sub}/${name} is torn or invalid: ${parsed.reason}\n${read.text}`);
      checked++;
    }
  }
  return checked;
}

describe('writers killed with SIGKILL at random instants', () => {
  it('leave every file parseable (30 kills), and everything they owned reapable', {
    timeout: 120_000,
  }, async () => {
    const dir = freshDir();
    // 6 batches of 5 writers on the same directory, each killed at its own random instant:
    // while writing records, claiming, reaping each other, removing.
    for (let batch = 0; batch < 6; batch++) {
      const writers = Array.from({ length: 5 }, () => run('writer', [dir]));
      await Promise.all(
        writers.map(async (writer) => {
          await writer.line();
          await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 150));
          await killHard(writer);
        }),
      );
      expect(checkEveryFileParses(dir)).toBeGreaterThan(0);
    }
    const survivor = createSessionManager({ dir });
    expect(await survivor.registerVm('vm-after', 'zone-a', [])).toBe(true);
    const report = await survivor.reapDeadSessions({ cleanup: async () => ({ ok: true }) });
    expect(report.failed).toEqual([]);
    const left = (await listSessions({ dir })).map((l) => l.record.sessionId);
    expect(left).toEqual([survivor.sessionId]);
    expect(checkEveryFileParses(dir)).toBeGreaterThan(0);
  });
});

const l0 = (held: { reaping?: { by: string } | undefined }[]) => held[0]?.reaping?.by;

describe('a reaper SIGKILLed mid-cleanup', () => {
  it('leaves every resource recorded and reapable by the next reaper', { timeout: 60_000 }, async () => {
    const dir = freshDir();
    const ids: string[] = [];
    for (let s = 0; s < 3; s++) {
      const resources = [0, 1].map((i) => ({ kind: 'vm', id: `vm-${s}-${i}`, registeredAt: 0 }));
      ids.push(...resources.map((r) => r.id));
      plantRecord(dir, recordOf({ sessionId: `dead-${s}`, resources }));
    }
    const reaper = run('reap-slow', [dir]);
    const { sessionId: reaperId } = JSON.parse(await reaper.line((l) => l.includes('sessionId'))) as {
      sessionId: string;
    };
    await reaper.line((l) => l.includes('cleaning'));
    await reaper.line((l) => l.includes('cleaning'));
    await killHard(reaper);
    const listed = await listSessions({ dir });
    expect(listed.flatMap((l) => l.record.resources.map((r) => r.id)).sort()).toEqual(ids.sort());
    const held = listed.filter((l) => l.reaping !== undefined);
    expect(held.length).toBeGreaterThan(0);
    // Every record is marked as held by the killed reaper (its take-over name).
    expect(new Set(held.map((l) => l.reaping?.by)).size).toBe(1);
    expect(l0(held)).toBe(reaperId);
    const next = createSessionManager({ dir });
    const cleaned: string[] = [];
    const report = await next.reapDeadSessions({
      cleanup: async (r) => {
        cleaned.push(r.id);
        return { ok: true };
      },
    });
    expect(cleaned.sort()).toEqual(ids.sort());
    expect([...report.removed].sort()).toEqual(['dead-0', 'dead-1', 'dead-2']);
    expect((await listSessions({ dir })).length).toBe(0);
  });
});

describe('a double Ctrl-C during a VM delete', () => {
  it('exits through the sync path without losing the VM record', { timeout: 60_000 }, async () => {
    const dir = freshDir();
    const terminal = run('vm-exit', [dir]);
    const { sessionId } = JSON.parse(await terminal.line((l) => l.includes('ready'))) as {
      sessionId: string;
    };
    terminal.child.kill('SIGINT');
    await terminal.line((l) => l.includes('deleting'));
    terminal.child.kill('SIGINT');
    expect((await terminal.exited).code).toBe(130);
    const [listed] = await listSessions({ dir });
    expect(listed?.record.sessionId).toBe(sessionId);
    expect(listed?.liveness).toBe('dead');
    // The VM stays recorded (its delete never finished); the port reservation is gone.
    expect(listed?.record.resources.map((r) => `${r.kind}:${r.id}`)).toEqual(['vm:vm-precious']);
    expect(listed?.record.vmId).toBe('vm-precious');
    const reaped = await createSessionManager({ dir }).reapDeadSessions({
      cleanup: async () => ({ ok: true }),
    });
    expect(reaped.cleaned.map((c) => c.resource.id)).toEqual(['vm-precious']);
  });
});
