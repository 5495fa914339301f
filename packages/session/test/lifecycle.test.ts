import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSessionManager, FileRegistryStore, readProcessStartTime } from '../src/index.js';
import { freshDir, killHard, runFixture } from './helpers.js';

describe('stale sessions across processes', () => {
  it('reports a SIGKILLed child stale with its resources, never a live sibling', {
    timeout: 30_000,
  }, async () => {
    const dir = freshDir();
    const doomed = runFixture('hold', [dir, 'hold', 'vm-doomed']);
    const sibling = runFixture('hold', [dir, 'hold', 'vm-sibling']);
    const doomedId = JSON.parse(await doomed.line()) as { sessionId: string; sessionFile: string };
    const siblingId = JSON.parse(await sibling.line()) as { sessionId: string };
    try {
      await killHard(doomed);
      const observer = createSessionManager({ dir });
      const { removed, reapable } = await observer.reapStaleSessions();
      expect(removed).toBe(1);
      expect(reapable.map((s) => s.sessionId)).toEqual([doomedId.sessionId]);
      expect(reapable[0]!.status).toBe('stale');
      expect(reapable[0]!.resources.map((r) => `${r.kind}:${r.id}`).sort()).toEqual([
        'process:svc-vm-doomed',
        'vm:vm-doomed',
      ]);
      expect(existsSync(doomedId.sessionFile)).toBe(false);
      const active = await observer.getAllActiveSessions();
      expect(Object.keys(active)).toEqual([siblingId.sessionId]);
      expect(await observer.cleanupStaleSessions()).toBe(0);
      expect(observer.getStatistics().staleSessionsRemoved).toBe(1);
    } finally {
      await killHard(sibling);
    }
  });

  it('detects pid reuse: a live pid with another start time is stale', async () => {
    const dir = freshDir();
    const observer = createSessionManager({ dir });
    const store = new FileRegistryStore({ dir });
    const liveStart = readProcessStartTime(process.pid);
    expect(liveStart).not.toBeNull();
    const base = {
      hostname: observer.hostname,
      createdAt: Date.now(),
      registeredAt: Date.now(),
      status: 'active' as const,
      vmId: 'vm-x',
      zone: 'z',
      components: [],
      metadata: {},
      resources: [{ kind: 'vm', id: 'vm-x', registeredAt: Date.now() }],
    };
    await store.update((draft) => {
      // Same live pid (this test process), but a start time that is not its own: the pid was reused.
      draft.sessions['reused'] = {
        ...base,
        sessionId: 'reused',
        pid: process.pid,
        processStartTime: `${liveStart}9`,
      };
      draft.sessions['same'] = { ...base, sessionId: 'same', pid: process.pid, processStartTime: liveStart };
      draft.sessions['remote'] = {
        ...base,
        sessionId: 'remote',
        pid: 999_999,
        processStartTime: '1',
        hostname: 'elsewhere',
      };
      draft.sessions['ancient-remote'] = {
        ...base,
        sessionId: 'ancient-remote',
        pid: 999_999,
        processStartTime: '1',
        hostname: 'elsewhere',
        createdAt: Date.now() - 13 * 3_600_000,
      };
    });
    const { reapable } = await observer.reapStaleSessions();
    expect(reapable.map((s) => s.sessionId).sort()).toEqual(['ancient-remote', 'reused']);
    expect(Object.keys(store.loadSync().sessions).sort()).toEqual(['remote', 'same']);
  });

  it('a child exiting through process.exit() with the sync cleanup leaves nothing registered', {
    timeout: 20_000,
  }, async () => {
    const dir = freshDir();
    const child = runFixture('hold', [dir, 'exit', 'vm-exit']);
    const identity = JSON.parse(await child.line()) as { sessionId: string; sessionFile: string };
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(new FileRegistryStore({ dir }).loadSync().sessions).toEqual({});
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
    const candidates = ['127.0.0.1:8010', '127.0.0.1:8011', '127.0.0.1:8012', '127.0.0.1:8013'];
    const claimers = Array.from({ length: 4 }, () =>
      runFixture('claim', [dir, barrier, candidates.join(',')]),
    );
    try {
      await Promise.all(claimers.map((c) => c.line()));
      writeFileSync(barrier, '');
      const claimed = await Promise.all(
        claimers.map(async (c) => (JSON.parse(await c.line()) as { claimed: string[] }).claimed),
      );
      expect(claimed.every((ids) => ids.length === 1)).toBe(true);
      expect(new Set(claimed.flat()).size).toBe(4);
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
    const fixture = runFixture('threads', [dir]);
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
