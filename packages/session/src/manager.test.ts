import { spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { freshDir, plantRecord, recordOf } from '../test/helpers.js';
import type { SessionRecord } from './contract.js';
import { SessionClaimConflictError, SessionWriteError } from './errors.js';
import { FileSessionStore } from './file-store/store.js';
import { readProcessStartTime } from './process.js';
import { createSessionManager } from './singleton.js';

function recordingLogger() {
  const warnings: { obj: object; msg: string | undefined }[] = [];
  return { warnings, logger: { warn: (obj: object, msg?: string) => void warnings.push({ obj, msg }) } };
}

function stored(dir: string, sessionId: string) {
  return new FileSessionStore({ dir, create: false }).readRecordSync(sessionId)?.record ?? null;
}

describe('the VM API (registerVm, getMyVm, unregisterVm)', () => {
  it("registers, reads and unregisters this session's VM, and counts it", async () => {
    const dir = freshDir();
    const manager = createSessionManager({ dir });
    expect(await manager.getMyVm()).toBeNull();
    expect(await manager.registerVm('vm-1', 'zone-a', ['api', 'db'], { size: 'large' })).toBe(true);
    const vm = await manager.getMyVm();
    expect(vm).toMatchObject({
      sessionId: manager.sessionId,
      pid: process.pid,
      hostname: manager.hostname,
      hostId: manager.host.id,
      vmId: 'vm-1',
      zone: 'zone-a',
      components: ['api', 'db'],
      metadata: { size: 'large' },
      status: 'active',
      createdAt: manager.createdAt,
    });
    expect(manager.getMyVmSync()).toEqual(vm);
    expect(stored(dir, manager.sessionId)).toEqual(vm);
    expect(manager.getStatistics()).toMatchObject({
      hasVm: true,
      vmId: 'vm-1',
      vmsRegistered: 1,
      vmsUnregistered: 0,
    });
    expect(await manager.unregisterVm()).toBe(true);
    expect(await manager.unregisterVm()).toBe(false);
    expect(manager.getMyVmSync()).toBeNull();
    // Owning nothing, the session has no record at all.
    expect(existsSync(manager.sessionFile)).toBe(false);
    expect(manager.getStatistics()).toMatchObject({
      hasVm: false,
      vmId: null,
      vmsRegistered: 1,
      vmsUnregistered: 1,
    });
  });

  it('answers getMyVm()/getMyVmSync() from memory when someone removed the session file, and writes it again', async () => {
    const dir = freshDir();
    const manager = createSessionManager({ dir });
    await manager.registerVm('vm-1', 'z', []);
    unlinkSync(manager.sessionFile);
    expect(manager.getMyVmSync()?.vmId).toBe('vm-1');
    expect((await manager.getMyVm())?.vmId).toBe('vm-1');
    await manager.registerResource({ kind: 'process', id: 'api', pid: 1 });
    expect(stored(dir, manager.sessionId)?.resources.map((r) => r.id)).toEqual(['vm-1', 'api']);
  });

  it('rejects bad arguments with TypeError naming the field', async () => {
    const manager = createSessionManager({ dir: freshDir() });
    await expect(manager.registerVm('', 'z', [])).rejects.toThrow(/"vmId"/);
    await expect(manager.registerVm('vm', 'z', ['ok', 3 as unknown as string])).rejects.toThrow(
      /"components"/,
    );
    await expect(manager.registerResource({ kind: 'Not A Word', id: 'x' })).rejects.toThrow(TypeError);
    expect(() => createSessionManager({ dir: freshDir(), maxSessionAgeHours: 0 })).toThrow(RangeError);
    expect(() => createSessionManager({ dir: freshDir(), lockTimeoutMs: -1 })).toThrow(/lockTimeoutMs/);
  });
});

describe('resources', () => {
  it('upserts by kind + id, and unregistering the VM resource clears the VM', async () => {
    const manager = createSessionManager({ dir: freshDir() });
    await manager.registerVm('vm-1', 'z', []);
    await manager.registerResource({ kind: 'process', id: 'api', pid: 123, processStartTime: '42' });
    await manager.registerResource({ kind: 'process', id: 'api', pid: 456 });
    expect(manager.getMyResourcesSync().map((r) => [r.kind, r.id, r.pid])).toEqual([
      ['vm', 'vm-1', undefined],
      ['process', 'api', 456],
    ]);
    expect(await manager.unregisterResource('vm', 'vm-1')).toBe(true);
    expect(await manager.getMyVm()).toBeNull();
    expect(await manager.unregisterResource('vm', 'vm-1')).toBe(false);
    expect(manager.unregisterResourceSync('process', 'api')).toBe(true);
    expect(await manager.getMyResources()).toEqual([]);
  });

  it('replaceResource swaps a restarted process for its predecessor in one write, or not at all', async () => {
    const dir = freshDir();
    // The real file store, counting the record writes it commits (and failing one on request).
    const writes: string[][] = [];
    let failNext = false;
    class CountingStore extends FileSessionStore {
      override async writeRecord(record: SessionRecord): Promise<void> {
        if (failNext) {
          failNext = false;
          throw new SessionWriteError(
            join(dir, 'sessions'),
            Object.assign(new Error('no space'), { code: 'ENOSPC' }),
          );
        }
        await super.writeRecord(record);
        writes.push(record.resources.map((r) => r.id));
      }
    }
    const manager = createSessionManager({ dir, store: new CountingStore({ dir }) });
    await manager.registerResource({ kind: 'process', id: 'api@100', pid: 100 });
    await manager.registerResource({ kind: 'process', id: 'db@200', pid: 200 });
    writes.length = 0;

    const added = await manager.replaceResource('process', 'api@100', {
      kind: 'process',
      id: 'api@101',
      pid: 101,
    });
    expect(added).toMatchObject({ kind: 'process', id: 'api@101', pid: 101 });
    expect(writes).toEqual([['db@200', 'api@101']]);
    expect(stored(dir, manager.sessionId)?.resources.map((r) => r.id)).toEqual(['db@200', 'api@101']);

    // A failed write changes nothing: the predecessor stays recorded, on file and in memory.
    failNext = true;
    await expect(
      manager.replaceResource('process', 'api@101', { kind: 'process', id: 'api@102', pid: 102 }),
    ).rejects.toMatchObject({ code: 'E_SESSION_WRITE_FAILED' });
    expect(manager.getMyResourcesSync().map((r) => r.id)).toEqual(['db@200', 'api@101']);
    expect(stored(dir, manager.sessionId)?.resources.map((r) => r.id)).toEqual(['db@200', 'api@101']);

    // Replacing something not recorded just adds; a bad input is refused before any write.
    await manager.replaceResource('process', 'gone@1', { kind: 'process', id: 'web@300', pid: 300 });
    expect(manager.getMyResourcesSync().map((r) => r.id)).toEqual(['db@200', 'api@101', 'web@300']);
    writes.length = 0;
    await expect(manager.replaceResource('Not A Word', 'x', { kind: 'process', id: 'y' })).rejects.toThrow(
      TypeError,
    );
    expect(writes).toEqual([]);
  });

  it('keeps concurrent async registrations of one session (none overwrites another)', async () => {
    const dir = freshDir();
    const manager = createSessionManager({ dir });
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => manager.registerResource({ kind: 'item', id: `i${i}` })),
    );
    expect(stored(dir, manager.sessionId)?.resources).toHaveLength(50);
  });

  it('claimResources refuses an id another live session holds, and a throwing chooser registers nothing', async () => {
    const dir = freshDir();
    const a = createSessionManager({ dir });
    const b = createSessionManager({ dir });
    const got = await a.claimResources('port', (taken) => {
      expect([...taken]).toEqual([]);
      return [{ kind: 'port', id: 'p1' }];
    });
    expect(got[0]).toMatchObject({ kind: 'port', id: 'p1', claimed: true });
    const seen: string[] = [];
    await expect(
      b.claimResources('port', (taken) => {
        seen.push(...taken);
        return [{ kind: 'port', id: 'p1' }];
      }),
    ).rejects.toBeInstanceOf(SessionClaimConflictError);
    expect(seen).toEqual(['p1']);
    await expect(
      b.claimResources('port', async () => Promise.reject(new Error('probe failed'))),
    ).rejects.toThrow('probe failed');
    expect(await b.getMyResources()).toEqual([]);
    const next = await b.claimResources('port', (taken) => [
      { kind: 'port', id: taken.has('p1') ? 'p2' : 'p1' },
    ]);
    expect(next.map((r) => r.id)).toEqual(['p2']);
    // Unregistering releases the claim: another session can have it now.
    expect(await a.unregisterResource('port', 'p1')).toBe(true);
    expect((await b.claimResources('port', () => [{ kind: 'port', id: 'p1' }])).map((r) => r.id)).toEqual([
      'p1',
    ]);
  });

  it("takes over a dead session's claim, and runs the chooser again when it loses a race", async () => {
    const dir = freshDir();
    const dead = createSessionManager({ dir });
    await dead.claimResources('port', () => [{ kind: 'port', id: '8080' }]);
    // Make the holder dead: rewrite its claim file with a pid that is gone.
    const store = new FileSessionStore({ dir });
    const [claim] = await store.listClaims('port');
    expect(claim?.holder.sessionId).toBe(dead.sessionId);
    const claimsDir = store.layout.claimsDir;
    const name = readdirSync(claimsDir).find((n) => n.startsWith('port~')) as string;
    const file = JSON.parse(readFileSync(join(claimsDir, name), 'utf8'));
    file.holder.pid = recordOf({ sessionId: 'x' }).pid;
    writeFileSync(join(claimsDir, name), JSON.stringify(file));
    const live = createSessionManager({ dir });
    let calls = 0;
    const got = await live.claimResources('port', (taken) => {
      calls++;
      expect(taken.has('8080')).toBe(false);
      return [{ kind: 'port', id: '8080' }];
    });
    expect(got.map((r) => r.id)).toEqual(['8080']);
    expect(calls).toBe(1);
    expect((await store.listClaims('port')).map((c) => c.holder.sessionId)).toEqual([live.sessionId]);
  });
});

describe('taken over', () => {
  it('an owner whose record a reaper took over never writes it back (E_SESSION_TAKEN_OVER)', async () => {
    const dir = freshDir();
    const owner = createSessionManager({ dir });
    await owner.registerVm('vm-1', 'z', []);
    const store = new FileSessionStore({ dir });
    const [target] = await store.listSessions();
    const reaper = createSessionManager({ dir });
    const hold = await store.takeOver(target!, {
      sessionId: reaper.sessionId,
      pid: reaper.pid,
      hostname: reaper.hostname,
      hostId: reaper.host.id,
      processStartTime: reaper.processStartTime,
      createdAt: reaper.createdAt,
    });
    expect(hold?.record.vmId).toBe('vm-1');
    await expect(owner.registerResource({ kind: 'item', id: 'late' })).rejects.toMatchObject({
      code: 'E_SESSION_TAKEN_OVER',
      by: reaper.sessionId,
    });
    expect(existsSync(owner.sessionFile)).toBe(false);
    expect(owner.getMyResourcesSync().map((r) => r.id)).toEqual(['vm-1']);
  });
});

describe('untrusted files', () => {
  it('never follows a symlink planted at the session file path', async () => {
    const dir = freshDir();
    const { logger } = recordingLogger();
    const manager = createSessionManager({ dir, logger });
    const victim = join(dir, '..', 'victim.json');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, manager.sessionFile);
    expect(manager.getMyVmSync()).toBeNull();
    expect(await manager.registerVm('vm-1', 'z', [])).toBe(true);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(lstatSync(manager.sessionFile).isSymbolicLink()).toBe(false);
    expect((await manager.getMyVm())?.vmId).toBe('vm-1');
  });

  it('does not trust a session file that holds another session', async () => {
    const dir = freshDir();
    const mine = createSessionManager({ dir });
    const other = createSessionManager({ dir });
    await mine.registerVm('vm-mine', 'z', []);
    await other.registerVm('vm-other', 'z', []);
    writeFileSync(mine.sessionFile, readFileSync(other.sessionFile));
    expect(mine.getMyVmSync()?.vmId).toBe('vm-mine');
  });

  it('a listing skips a corrupt record with a warning and moves nothing; reaping keeps it aside', async () => {
    const dir = freshDir();
    const { warnings, logger } = recordingLogger();
    const manager = createSessionManager({ dir, logger });
    await manager.registerVm('vm-1', 'z', []);
    const bad = plantRecord(dir, recordOf({ sessionId: 'bad' }));
    writeFileSync(bad, '{"torn');
    const listed = await manager.listSessions();
    expect(listed.map((l) => l.record.sessionId)).toEqual([manager.sessionId]);
    expect(readFileSync(bad, 'utf8')).toBe('{"torn');
    expect(warnings.some((w) => w.msg?.includes('bad.json'))).toBe(true);
    // Reaping (which may change things) moves it aside, intact, and warns.
    await manager.reapDeadSessions({ cleanup: async () => ({ ok: true }) });
    expect(existsSync(bad)).toBe(false);
    const aside = readdirSync(join(dir, 'sessions')).filter((n) => n.startsWith('bad.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dir, 'sessions', aside[0] as string), 'utf8')).toBe('{"torn');
  });
});

describe('liveness and age', () => {
  it('never reaps a live process older than the age limit; reaps a dead one', async () => {
    const dir = freshDir();
    // This test process, "created" 3 days ago, is verified by pid + start time.
    plantRecord(
      dir,
      recordOf({
        sessionId: 'old-but-alive',
        pid: process.pid,
        processStartTime: readProcessStartTime(process.pid),
        createdAt: Date.now() - 72 * 3_600_000,
        resources: [{ kind: 'vm', id: 'vm-alive', registeredAt: 0 }],
      }),
    );
    plantRecord(
      dir,
      recordOf({ sessionId: 'dead', resources: [{ kind: 'vm', id: 'vm-dead', registeredAt: 0 }] }),
    );
    const reaper = createSessionManager({ dir, maxSessionAgeHours: 1 });
    const cleaned: string[] = [];
    const report = await reaper.reapDeadSessions({
      cleanup: async (resource) => {
        cleaned.push(resource.id);
        return { ok: true };
      },
    });
    expect(cleaned).toEqual(['vm-dead']);
    expect(report.removed).toEqual(['dead']);
    expect(Object.keys(await reaper.getAllActiveSessions())).toEqual(['old-but-alive']);
  });

  it('judges other hosts by age from the last heartbeat only', async () => {
    const dir = freshDir();
    const base = {
      hostname: 'elsewhere',
      hostId: 'f'.repeat(32),
      pid: 4242,
      resources: [{ kind: 'vm', id: 'v', registeredAt: 0 }],
    };
    plantRecord(dir, recordOf({ ...base, sessionId: 'remote-young' }));
    plantRecord(
      dir,
      recordOf({
        ...base,
        sessionId: 'remote-heartbeat',
        createdAt: Date.now() - 5 * 3_600_000,
        heartbeatAt: Date.now(),
      }),
    );
    plantRecord(dir, recordOf({ ...base, sessionId: 'remote-old', createdAt: Date.now() - 5 * 3_600_000 }));
    const reaper = createSessionManager({ dir, maxSessionAgeHours: 1 });
    const listed = Object.fromEntries((await reaper.listSessions()).map((l) => [l.record.sessionId, l]));
    expect(listed['remote-young']).toMatchObject({ liveness: 'unknown', thisHost: false });
    expect(listed['remote-heartbeat']).toMatchObject({ liveness: 'unknown' });
    expect(listed['remote-old']).toMatchObject({ liveness: 'dead' });
    const report = await reaper.reapDeadSessions({ cleanup: async () => ({ ok: true }) });
    expect(report.removed).toEqual(['remote-old']);
  });

  it('heartbeat() refreshes heartbeatAt; a session that owns nothing has nothing to refresh', async () => {
    const dir = freshDir();
    const owner = createSessionManager({ dir });
    expect(await owner.heartbeat()).toBe(false);
    await owner.registerVm('vm', 'z', []);
    expect(await owner.heartbeat()).toBe(true);
    expect(stored(dir, owner.sessionId)?.heartbeatAt).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('unregistering the session', () => {
  it('async: removes the record, claims, tracker file', async () => {
    const dir = freshDir();
    const manager = createSessionManager({ dir });
    await manager.registerVm('vm-1', 'z', []);
    await manager.claimResources('port', () => [{ kind: 'port', id: '9000' }]);
    expect(existsSync(manager.globalTrackerFile)).toBe(true);
    expect(await manager.unregisterSession()).toBe(true);
    expect(existsSync(manager.sessionFile)).toBe(false);
    expect(existsSync(manager.globalTrackerFile)).toBe(false);
    expect(await new FileSessionStore({ dir }).listClaims('port')).toEqual([]);
    expect(manager.unregisterSessionSync()).toBe(false);
  });

  it('sync (exit path): forgets ports and stopped processes, keeps VMs and running processes recorded', async () => {
    const dir = freshDir();
    const manager = createSessionManager({ dir });
    await manager.registerVm('vm-1', 'z', []);
    await manager.registerResource({
      kind: 'process',
      id: 'gone',
      pid: recordOf({ sessionId: 'x' }).pid,
      processStartTime: '1',
    });
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const childPid = child.pid as number;
    await manager.registerResource({
      kind: 'process',
      id: 'running',
      pid: childPid,
      processStartTime: readProcessStartTime(childPid) ?? undefined,
    });
    onTestFinished(() => {
      child.kill('SIGKILL');
    });
    await manager.registerResource({ kind: 'vm', id: 'adopted', metadata: { adoptedFrom: 'dead' } });
    await manager.claimResources('port', () => [{ kind: 'port', id: '9001' }]);
    expect(manager.unregisterSessionSync()).toBe(true);
    const left = stored(dir, manager.sessionId);
    expect(left?.resources.map((r) => r.id).sort()).toEqual(['adopted', 'running', 'vm-1']);
    expect(left?.vmId).toBe('vm-1');
    expect(await new FileSessionStore({ dir }).listClaims('port')).toEqual([]);
  });
});
