import { describe, expect, it } from 'vitest';
import { freshDir, plantRecord, recordOf } from '../test/helpers.js';
import type { ResourceRecord } from './contract.js';
import { FileSessionStore } from './file-store/store.js';
import { createSessionManager } from './singleton.js';

const vm = (id: string, extra: Partial<ResourceRecord> = {}): ResourceRecord => ({
  kind: 'vm',
  id,
  registeredAt: 0,
  ...extra,
});

describe('reapDeadSessions', () => {
  it('removes a resource only after its cleanup succeeded; adopts failures in one write', async () => {
    const dir = freshDir();
    plantRecord(
      dir,
      recordOf({ sessionId: 'a', vmId: 'vm-a1', zone: 'z', resources: [vm('vm-a1'), vm('vm-a2')] }),
    );
    plantRecord(dir, recordOf({ sessionId: 'b', resources: [vm('vm-b1')] }));
    const reaper = createSessionManager({ dir });
    const report = await reaper.reapDeadSessions({
      cleanup: async (resource) => (resource.id === 'vm-a2' ? { ok: false, detail: 'quota' } : { ok: true }),
    });
    expect([...report.sessions].sort()).toEqual(['a', 'b']);
    expect(report.cleaned.map((c) => c.resource.id).sort()).toEqual(['vm-a1', 'vm-b1']);
    expect(report.adopted.map((c) => [c.sessionId, c.resource.id])).toEqual([['a', 'vm-a2']]);
    expect([...report.removed].sort()).toEqual(['a', 'b']);
    const mine = await reaper.getMyResources();
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ id: 'vm-a2', metadata: { adoptedFrom: 'a', lastCleanupError: 'quota' } });
    expect(mine[0]?.cleaningBy).toBeUndefined();
    // Nothing of a or b is left in the store.
    expect((await reaper.listSessions()).map((l) => l.record.sessionId)).toEqual([reaper.sessionId]);
  });

  it('with adopt: false, leaves failed resources in the dead record, reapable again', async () => {
    const dir = freshDir();
    plantRecord(dir, recordOf({ sessionId: 'a', resources: [vm('ok'), vm('bad')] }));
    const reaper = createSessionManager({ dir });
    const report = await reaper.reapDeadSessions({
      cleanup: async (r) => ({ ok: r.id === 'ok' }),
      adopt: false,
    });
    expect(report.left.map((l) => l.resource.id)).toEqual(['bad']);
    const [listed] = await reaper.listSessions();
    expect(listed?.record.resources.map((r) => r.id)).toEqual(['bad']);
    expect(listed?.record.resources[0]?.cleaningBy).toBeUndefined();
    expect(listed?.liveness).toBe('dead');
    expect(listed?.reaping).toBeUndefined();
    const second = await reaper.reapDeadSessions({ cleanup: async () => ({ ok: true }) });
    expect(second.removed).toEqual(['a']);
  });

  it('refuses ids and zones that would become command options, never handing them to a cleanup', async () => {
    const dir = freshDir();
    plantRecord(
      dir,
      recordOf({
        sessionId: 'evil',
        resources: [
          vm('--project=other'),
          vm('ok-id', { zone: '-z' }),
          vm('bell\u0007'),
          vm('line\u2028break'),
          vm('rtl\u202eevil'),
          vm('zero\u200bwidth'),
          vm('fine'),
        ],
      }),
    );
    const reaper = createSessionManager({ dir });
    const seen: string[] = [];
    const report = await reaper.reapDeadSessions({
      cleanup: async (r) => {
        seen.push(r.id);
        return { ok: true };
      },
    });
    expect(seen).toEqual(['fine']);
    expect(report.refused.map((r) => r.resource.id).sort()).toEqual(
      [
        '--project=other',
        'bell\u0007',
        'line\u2028break',
        'ok-id',
        'rtl\u202eevil',
        'zero\u200bwidth',
      ].sort(),
    );
    expect(
      report.refused.every((r) =>
        /starts with "-"|control or other non-printing characters/.test(r.detail ?? ''),
      ),
    ).toBe(true);
    expect(
      (await reaper.listSessions()).find((l) => l.record.sessionId === 'evil')?.record.resources,
    ).toHaveLength(6);
    // Registering such an id is refused up front.
    await expect(reaper.registerResource({ kind: 'vm', id: 'a\u2029b' })).rejects.toThrow(
      /must be printable/,
    );
  });

  it('runs at most `concurrency` cleanups at once', async () => {
    const dir = freshDir();
    for (let i = 0; i < 40; i++) plantRecord(dir, recordOf({ sessionId: `d${i}`, resources: [vm(`v${i}`)] }));
    const reaper = createSessionManager({ dir });
    let inFlight = 0;
    let max = 0;
    const report = await reaper.reapDeadSessions({
      concurrency: 5,
      cleanup: async () => {
        max = Math.max(max, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return { ok: true };
      },
    });
    expect(report.removed).toHaveLength(40);
    expect(max).toBe(5);
  });

  it('an aborted reap starts no more cleanups and leaves unstarted resources recorded', async () => {
    const dir = freshDir();
    for (let i = 0; i < 10; i++) plantRecord(dir, recordOf({ sessionId: `d${i}`, resources: [vm(`v${i}`)] }));
    const reaper = createSessionManager({ dir });
    const abort = new AbortController();
    let started = 0;
    const report = await reaper.reapDeadSessions({
      concurrency: 2,
      signal: abort.signal,
      cleanup: async () => {
        if (++started === 3) abort.abort();
        return { ok: true };
      },
    });
    expect(report.cleaned.length).toBe(3);
    expect(report.left.length).toBe(7);
    const remaining = (await reaper.listSessions()).filter((l) => l.record.sessionId !== reaper.sessionId);
    expect(remaining.flatMap((l) => l.record.resources.map((r) => r.id))).toHaveLength(7);
  });

  it('a throwing cleanup counts as failed (adopted), never as done', async () => {
    const dir = freshDir();
    plantRecord(dir, recordOf({ sessionId: 'a', resources: [vm('v')] }));
    const reaper = createSessionManager({ dir });
    const report = await reaper.reapDeadSessions({ cleanup: async () => Promise.reject(new Error('boom')) });
    expect(report.adopted.map((a) => a.detail)).toEqual(['boom']);
    expect((await reaper.getMyResources()).map((r) => r.id)).toEqual(['v']);
  });

  it('takes over a record held by a dead reaper, and leaves alone one held by a live reaper', async () => {
    const dir = freshDir();
    plantRecord(dir, recordOf({ sessionId: 'a', resources: [vm('va')] }));
    plantRecord(dir, recordOf({ sessionId: 'b', resources: [vm('vb')] }));
    const store = new FileSessionStore({ dir });
    const listed = await store.listSessions();
    const deadReaper = {
      ...recordOf({ sessionId: 'deadreaper' }),
      hostId: recordOf({ sessionId: 'x' }).hostId ?? null,
    };
    const liveReaper = createSessionManager({ dir });
    const heldByDead = await store.takeOver(listed.find((l) => l.record.sessionId === 'a')!, {
      sessionId: deadReaper.sessionId,
      pid: deadReaper.pid,
      hostname: deadReaper.hostname,
      hostId: deadReaper.hostId,
      processStartTime: deadReaper.processStartTime,
      createdAt: deadReaper.createdAt,
    });
    expect(heldByDead).not.toBeNull();
    const heldByLive = await store.takeOver(listed.find((l) => l.record.sessionId === 'b')!, {
      sessionId: liveReaper.sessionId,
      pid: liveReaper.pid,
      hostname: liveReaper.hostname,
      hostId: liveReaper.host.id,
      processStartTime: liveReaper.processStartTime,
      createdAt: liveReaper.createdAt,
    });
    expect(heldByLive).not.toBeNull();
    const view = await createSessionManager({ dir }).listSessions();
    expect(view.map((v) => [v.record.sessionId, v.reaping?.by]).sort()).toEqual([
      ['a', 'deadreaper'],
      ['b', liveReaper.sessionId],
    ]);
    const third = createSessionManager({ dir });
    const cleaned: string[] = [];
    const report = await third.reapDeadSessions({
      cleanup: async (r) => {
        cleaned.push(r.id);
        return { ok: true };
      },
    });
    expect(cleaned).toEqual(['va']);
    expect(report.skipped.map((s) => s.sessionId)).toEqual(['b']);
    // Two reapers racing for the same record: exactly one wins.
    plantRecord(dir, recordOf({ sessionId: 'c', resources: [vm('vc')] }));
    const target = (await store.listSessions()).find((l) => l.record.sessionId === 'c')!;
    const owners = [third, createSessionManager({ dir })].map((m) => ({
      sessionId: m.sessionId,
      pid: m.pid,
      hostname: m.hostname,
      hostId: m.host.id,
      processStartTime: m.processStartTime,
      createdAt: m.createdAt,
    }));
    const holds = await Promise.all(owners.map((o) => store.takeOver(target, o)));
    expect(holds.filter((h) => h !== null)).toHaveLength(1);
  });
});
