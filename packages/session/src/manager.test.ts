import { existsSync, lstatSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshDir } from '../test/helpers.js';
import type { SessionRecord } from './contract.js';
import { SessionClaimConflictError } from './errors.js';
import { createSessionManager } from './singleton.js';
import { FileRegistryStore, type RegistryData, type RegistryStore, type UpdateContext } from './store.js';

function recordingLogger() {
  const warnings: { obj: object; msg: string | undefined }[] = [];
  return { warnings, logger: { warn: (obj: object, msg?: string) => void warnings.push({ obj, msg }) } };
}

function corruptFiles(dir: string, base = 'registry.json'): string[] {
  return readdirSync(dir).filter((name) => name.startsWith(`${base}.corrupt-`));
}

describe('the VM API of the original', () => {
  it("registers, reads and unregisters this session's VM, and counts it", async () => {
    const manager = createSessionManager({ dir: freshDir() });
    expect(await manager.getMyVm()).toBeNull();
    expect(await manager.registerVm('vm-1', 'zone-a', ['api', 'db'], { size: 'large' })).toBe(true);
    const vm = await manager.getMyVm();
    expect(vm).toMatchObject({
      sessionId: manager.sessionId,
      pid: process.pid,
      hostname: manager.hostname,
      vmId: 'vm-1',
      zone: 'zone-a',
      components: ['api', 'db'],
      metadata: { size: 'large' },
      status: 'active',
      createdAt: manager.createdAt,
    });
    expect(manager.getMyVmSync()).toEqual(vm);
    expect((await manager.getMyResources()).map((r) => `${r.kind}:${r.id}`)).toEqual(['vm:vm-1']);
    expect(manager.getStatistics()).toMatchObject({
      hasVm: true,
      vmId: 'vm-1',
      vmsRegistered: 1,
      vmsUnregistered: 0,
    });
    expect(await manager.unregisterVm()).toBe(true);
    expect(await manager.unregisterVm()).toBe(false);
    expect(manager.getMyVmSync()).toBeNull();
    expect(existsSync(manager.sessionFile)).toBe(false);
    const stats = manager.getStatistics();
    expect(stats).toMatchObject({ hasVm: false, vmId: null, vmsRegistered: 1, vmsUnregistered: 1 });
    expect(stats.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(stats.globalTrackerFile).toBe(manager.globalTrackerFile);
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

  it('claimResources refuses an id another live session owns, and a throwing chooser registers nothing', async () => {
    const dir = freshDir();
    const a = createSessionManager({ dir });
    const b = createSessionManager({ dir });
    await a.claimResources('port', (taken) => {
      expect([...taken]).toEqual([]);
      return [{ kind: 'port', id: 'p1' }];
    });
    const seen: string[] = [];
    await expect(
      b.claimResources('port', (taken) => {
        seen.push(...taken);
        return [{ kind: 'port', id: 'p1' }];
      }),
    ).rejects.toBeInstanceOf(SessionClaimConflictError);
    expect(seen).toEqual(['p1']);
    await expect(
      b.claimResources('port', async () => {
        throw new Error('probe failed');
      }),
    ).rejects.toThrow('probe failed');
    expect(await b.getMyResources()).toEqual([]);
    // The lock was released: the next claim goes through.
    const got = await b.claimResources('port', (taken) => [
      { kind: 'port', id: taken.has('p1') ? 'p2' : 'p1' },
    ]);
    expect(got.map((r) => r.id)).toEqual(['p2']);
  });
});

describe('corrupt and foreign files', () => {
  it('moves a corrupt registry aside intact, warns once, and keeps working with its own live state', async () => {
    const dir = freshDir();
    const { warnings, logger } = recordingLogger();
    const manager = createSessionManager({ dir, logger });
    await manager.registerVm('vm-live', 'z', []);
    const garbage = '{"sessions": {"torn';
    writeFileSync(manager.registryFile, garbage);
    await manager.registerResource({ kind: 'process', id: 'p' });
    const aside = corruptFiles(dir);
    expect(aside).toHaveLength(1);
    expect(aside[0]).toMatch(/^registry\.json\.corrupt-\d+$/);
    expect(readFileSync(join(dir, aside[0]!), 'utf8')).toBe(garbage);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain('registry.json');
    const stored = new FileRegistryStore({ dir }).loadSync().sessions[manager.sessionId];
    expect(stored?.resources.map((r) => r.id)).toEqual(['vm-live', 'p']);
    expect(stored?.vmId).toBe('vm-live');
    await manager.cleanupStaleSessions();
    expect(warnings).toHaveLength(1);
  });

  it('treats valid JSON of another shape as foreign', async () => {
    const dir = freshDir();
    const { warnings, logger } = recordingLogger();
    const manager = createSessionManager({ dir, logger });
    writeFileSync(manager.registryFile, JSON.stringify({ 'some-session': { vm_id: 'x' } }));
    expect(await manager.getAllActiveSessions()).toEqual({});
    expect(corruptFiles(dir)).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/schema/);
  });

  it('never follows a symlink planted at the registry path', async () => {
    const dir = freshDir();
    const manager = createSessionManager({ dir });
    const victim = join(dir, '..', 'victim.json');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, manager.registryFile);
    expect(await manager.registerVm('vm-1', 'z', [])).toBe(true);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(lstatSync(manager.registryFile).isSymbolicLink()).toBe(false);
    expect(Object.keys(new FileRegistryStore({ dir }).loadSync().sessions)).toEqual([manager.sessionId]);
    expect(corruptFiles(dir)).toHaveLength(1);
  });

  it('never follows a symlink planted at the session file path', async () => {
    const dir = freshDir();
    const manager = createSessionManager({ dir });
    const victim = join(dir, '..', 'victim.json');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, manager.sessionFile);
    expect(manager.getMyVmSync()).toBeNull();
    expect(await manager.registerVm('vm-1', 'z', [])).toBe(true);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(lstatSync(manager.sessionFile).isSymbolicLink()).toBe(false);
    expect((await manager.getMyVm())?.vmId).toBe('vm-1');
  });

  it('does not trust a session file that belongs to another session', async () => {
    const dir = freshDir();
    const { warnings, logger } = recordingLogger();
    const mine = createSessionManager({ dir, logger });
    const other = createSessionManager({ dir });
    await other.registerVm('vm-other', 'z', []);
    writeFileSync(mine.sessionFile, readFileSync(other.sessionFile));
    expect(mine.getMyVmSync()).toBeNull();
    expect(corruptFiles(dir, `session-${mine.sessionId}.json`)).toHaveLength(1);
    expect(warnings[0]!.msg).toContain('another session');
  });
});

describe('staleness by age', () => {
  it('reaps a session older than maxSessionAgeHours even when its pid is alive', async () => {
    const dir = freshDir();
    const young = createSessionManager({ dir });
    await young.registerVm('vm-young', 'z', []);
    const store = new FileRegistryStore({ dir });
    await store.update((draft) => {
      const template = draft.sessions[young.sessionId]!;
      draft.sessions['old'] = { ...template, sessionId: 'old', createdAt: Date.now() - 2 * 3_600_000 };
    });
    const strict = createSessionManager({ dir, maxSessionAgeHours: 1 });
    expect((await strict.reapStaleSessions()).reapable.map((s) => s.sessionId)).toEqual(['old']);
    expect(Object.keys(await strict.getAllActiveSessions())).toEqual([young.sessionId]);
    expect(strict.getStatistics()).toMatchObject({ staleSessionsRemoved: 1, registryCleanups: 1 });
  });

  it('counts the age from the last heartbeat, so a long-running owner that heartbeats stays live', async () => {
    const dir = freshDir();
    const owner = createSessionManager({ dir });
    await owner.registerVm('vm-long-running', 'z', []);
    const store = new FileRegistryStore({ dir });
    // The owner started 3 h ago; with a 1 h limit only its heartbeat keeps it.
    await store.update((draft) => {
      const record = draft.sessions[owner.sessionId]!;
      draft.sessions[owner.sessionId] = { ...record, createdAt: Date.now() - 3 * 3_600_000 };
    });
    const strict = createSessionManager({ dir, maxSessionAgeHours: 1 });
    expect(await owner.heartbeat()).toBe(true);
    expect((await store.load()).sessions[owner.sessionId]?.heartbeatAt).toBeGreaterThan(Date.now() - 60_000);
    expect(await strict.cleanupStaleSessions()).toBe(0);
    // Without a fresh heartbeat the same record is too old.
    await store.update((draft) => {
      const record = draft.sessions[owner.sessionId]!;
      draft.sessions[owner.sessionId] = { ...record, heartbeatAt: Date.now() - 2 * 3_600_000 };
    });
    expect(await strict.cleanupStaleSessions()).toBe(1);
    // A session without an entry has nothing to refresh.
    expect(await createSessionManager({ dir }).heartbeat()).toBe(false);
  });
});

describe('the RegistryStore interface', () => {
  it('is all the manager needs: an in-memory store works in place of the file store', async () => {
    let data: RegistryData = { sessions: {} };
    let updates = 0;
    const memory: RegistryStore = {
      location: 'memory://test',
      load: async () => structuredClone(data),
      loadSync: () => structuredClone(data),
      list: async () => Object.values(data.sessions) as SessionRecord[],
      async update<T>(mutate: (draft: RegistryData, context: UpdateContext) => T | Promise<T>) {
        const draft = structuredClone(data);
        const result = await mutate(draft, { recovered: false });
        data = draft;
        updates++;
        return result;
      },
      updateSync<T>(mutate: (draft: RegistryData, context: UpdateContext) => T) {
        const draft = structuredClone(data);
        const result = mutate(draft, { recovered: false });
        data = draft;
        updates++;
        return result;
      },
    };
    const manager = createSessionManager({ dir: freshDir(), store: memory });
    expect(manager.registryFile).toBe('memory://test');
    await manager.registerVm('vm-m', 'z', []);
    expect(data.sessions[manager.sessionId]?.vmId).toBe('vm-m');
    expect(manager.unregisterSessionSync()).toBe(true);
    expect(data.sessions).toEqual({});
    expect(updates).toBe(2);
  });
});

describe('unregistering the session', () => {
  it('removes the entry and the session and tracker files; a lock it cannot get is a named error and keeps the files', async () => {
    const dir = freshDir();
    const { warnings, logger } = recordingLogger();
    const manager = createSessionManager({ dir, logger, lockTimeoutMs: 50 });
    await manager.registerVm('vm-1', 'z', []);
    expect(existsSync(manager.globalTrackerFile)).toBe(true);
    // Another live process (this one, seen from a different lock token) holds the lock.
    const holder = new FileRegistryStore({ dir, lockTimeoutMs: 50 });
    let release: () => void = () => {};
    const held = holder.update(() => new Promise<void>((resolve) => (release = resolve)));
    await new Promise((resolve) => setTimeout(resolve, 10));
    await expect(manager.unregisterSession()).rejects.toMatchObject({ code: 'E_SESSION_LOCK_TIMEOUT' });
    release();
    await held;
    expect(existsSync(manager.sessionFile)).toBe(true);
    expect(await manager.unregisterSession()).toBe(true);
    expect(existsSync(manager.sessionFile)).toBe(false);
    expect(existsSync(manager.globalTrackerFile)).toBe(false);
    expect(new FileRegistryStore({ dir }).loadSync().sessions).toEqual({});
    expect(manager.unregisterSessionSync()).toBe(false);
    expect(warnings).toEqual([]);
  });
});
