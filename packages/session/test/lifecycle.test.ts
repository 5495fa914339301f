import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSessionManager, listSessions, readProcessStartTime } from '../src/index.js';
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

describe('dead sessions across processes', () => {
  it('reaps a SIGKILLed child with its resources, never a live sibling', { timeout: 30_000 }, async () => {
    const dir = freshDir();
    const doomed = run('hold', [dir, 'hold', 'vm-doomed']);
    const sibling = run('hold', [dir, 'hold', 'vm-sibling']);
    const doomedId = JSON.parse(await doomed.line()) as { sessionId: string; sessionFile: string };
    const siblingId = JSON.parse(await sibling.line()) as { sessionId: string };
    await killHard(doomed);
    const observer = createSessionManager({ dir });
    const verdicts = Object.fromEntries(
      (await observer.listSessions()).map((l) => [l.record.sessionId, l.liveness]),
    );
    expect(verdicts).toEqual({ [doomedId.sessionId]: 'dead', [siblingId.sessionId]: 'live' });
    const cleaned: string[] = [];
    const report = await observer.reapDeadSessions({
      cleanup: async (r) => {
        cleaned.push(`${r.kind}:${r.id}`);
        return { ok: true };
      },
    });
    expect(report.removed).toEqual([doomedId.sessionId]);
    expect(cleaned.sort()).toEqual(['process:svc-vm-doomed', 'vm:vm-doomed']);
    expect(existsSync(doomedId.sessionFile)).toBe(false);
    expect(Object.keys(await observer.getAllActiveSessions())).toEqual([siblingId.sessionId]);
    expect(observer.getStatistics().staleSessionsRemoved).toBe(1);
  });

  it('a SIGSTOPped owner keeps its resources when another process on this host reaps', {
    timeout: 30_000,
  }, async () => {
    const dir = freshDir();
    // An age limit the stopped owner is far past: only the pid check can save it.
    const owner = run('hold', [dir, 'hold', 'vm-paused']);
    const id = JSON.parse(await owner.line()) as { sessionId: string };
    owner.child.kill('SIGSTOP');
    try {
      await new Promise((r) => setTimeout(r, 300));
      const reaper = createSessionManager({ dir, maxSessionAgeHours: 0.00001 });
      const cleaned: string[] = [];
      const report = await reaper.reapDeadSessions({
        cleanup: async (r) => {
          cleaned.push(r.id);
          return { ok: true };
        },
      });
      expect(cleaned).toEqual([]);
      expect(report.sessions).toEqual([]);
      const listed = (await reaper.listSessions()).find((l) => l.record.sessionId === id.sessionId);
      expect(listed).toMatchObject({ liveness: 'live', thisHost: true });
      expect(listed?.record.resources.map((r) => r.id).sort()).toEqual(['svc-vm-paused', 'vm-paused']);
    } finally {
      owner.child.kill('SIGCONT');
    }
  });

  it('detects pid reuse: a live pid with another start time is dead', async () => {
    const dir = freshDir();
    const liveStart = readProcessStartTime(process.pid) as string;
    const vm = [{ kind: 'vm', id: 'vm-x', registeredAt: Date.now() }];
    plantRecord(
      dir,
      recordOf({ sessionId: 'reused', pid: process.pid, processStartTime: `${liveStart}9`, resources: vm }),
    );
    plantRecord(
      dir,
      recordOf({ sessionId: 'same', pid: process.pid, processStartTime: liveStart, resources: vm }),
    );
    // Another container with this hostname: its pids mean nothing here.
    plantRecord(
      dir,
      recordOf({ sessionId: 'other-pidns', pid: process.pid, hostId: '0'.repeat(32), resources: vm }),
    );
    const verdicts = Object.fromEntries(
      (await listSessions({ dir })).map((l) => [l.record.sessionId, [l.liveness, l.thisHost]]),
    );
    expect(verdicts).toEqual({
      reused: ['dead', true],
      same: ['live', true],
      'other-pidns': ['unknown', false],
    });
  });

  it('a child exiting through process.exit() with the sync cleanup leaves nothing registered', {
    timeout: 20_000,
  }, async () => {
    const dir = freshDir();
    const child = run('hold', [dir, 'exit', 'vm-exit']);
    const identity = JSON.parse(await child.line()) as { sessionId: string; sessionFile: string };
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(await listSessions({ dir })).toEqual([]);
    expect(existsSync(identity.sessionFile)).toBe(false);
    expect(existsSync(join(dir, `tracker-${identity.sessionId}.json`))).toBe(false);
  });
});

describe('claimResources across processes', () => {
  it('gives processes claiming the same candidates at the same instant different ids', {
    timeout: 30_000,
  }, async () => {
    const dir = freshDir();
    const barrier = join(dir, '..', 'claim-barrier');
    const candidates = Array.from({ length: 8 }, (_, i) => `127.0.0.1:${8010 + i}`);
    const claimers = Array.from({ length: 8 }, () => run('claim', [dir, barrier, candidates.join(',')]));
    try {
      await Promise.all(claimers.map((c) => c.line()));
      writeFileSync(barrier, '');
      const claimed = await Promise.all(
        claimers.map(async (c) => (JSON.parse(await c.line()) as { claimed: string[] }).claimed),
      );
      expect(claimed.every((ids) => ids.length === 1)).toBe(true);
      expect(new Set(claimed.flat()).size).toBe(8);
    } finally {
      await Promise.all(claimers.map(killHard));
    }
  });
});

describe('worker threads and child processes', () => {
  it('a worker thread sees the same session; options that differ are refused; a child is its own session', {
    timeout: 30_000,
  }, async () => {
    const dir = freshDir();
    const fixture = run('threads', [dir]);
    const result = JSON.parse(await fixture.line()) as {
      availableBefore: boolean;
      availableAfter: boolean;
      main: string;
      workers: string[];
      sameAgain: boolean;
      conflictCode: string | null;
      childSessionId: string;
      childError: string;
    };
    expect(result.availableBefore).toBe(false);
    expect(result.availableAfter).toBe(true);
    expect(result.workers).toEqual([result.main, result.main, result.main]);
    expect(result.sameAgain).toBe(true);
    expect(result.conflictCode).toBe('E_SESSION_OPTIONS_CONFLICT');
    expect(result.childError).toBe('');
    expect(result.childSessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.childSessionId).not.toBe(result.main);
  });
});
