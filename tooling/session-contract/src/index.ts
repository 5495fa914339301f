// The SessionStore contract of @core/session as one vitest suite, run against
// every store (file, Redis, etcd): records, claims, take-overs and reaping
// through the session manager. Each test gets a fleet of its own (a name the
// store factory turns into a key prefix or a directory) and closes every
// store it made, pass or fail.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ContractSession, ContractStore, Owner, SessionRecordShape, Stored } from './types.js';

export { type FixtureRecord, recordOf, remoteOwner } from './fixtures.js';
export type {
  ContractManager,
  ContractSession,
  ContractStore,
  Evidence,
  Hold,
  Outcome,
  Owner,
  Resource,
  SessionRecordShape,
  Stored,
} from './types.js';

/** Options of {@link describeSessionStoreContract}. */
export interface ContractOptions {
  /** Timeout of each test (default 30 000 ms). */
  readonly timeoutMs?: number;
  /** How many stores race for one claim or one take-over (default 5). */
  readonly racers?: number;
}

/** A pid that is gone: a child that started and exited (so the owner is provably dead on this host). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore', env: process.env });
  const pid = child.pid;
  await new Promise((resolve) => child.once('exit', resolve));
  if (pid === undefined) throw new Error('could not start a short-lived child for a dead pid');
  return pid;
}

/**
 * Declares the contract suite for one store implementation.
 *
 * @param name - shown in the suite's title
 * @param makeStore - a new store on the fleet `fleet` (every call with the same name shares its data; one call per session)
 * @param session - `@core/session` itself: `createSessionManager` and `readHostIdentity`
 * @param options - see {@link ContractOptions}
 */
export function describeSessionStoreContract<Store extends ContractStore>(
  name: string,
  makeStore: (fleet: string) => Store | Promise<Store>,
  session: ContractSession<Store>,
  options: ContractOptions = {},
): void {
  const timeout = options.timeoutMs ?? 30_000;
  const racers = options.racers ?? 5;
  const host = session.readHostIdentity();

  /** A fleet for one test, and a factory of stores on it that are closed when the test finishes. */
  function fleet() {
    const fleetName = `contract-${process.pid}-${randomUUID().slice(0, 8)}`;
    const stores: Store[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'session-contract-'));
    onTestFinished(async () => {
      await Promise.all(stores.map((store) => store.close?.().catch(() => undefined)));
      rmSync(dir, { recursive: true, force: true });
    });
    const store = async () => {
      const made = await makeStore(fleetName);
      stores.push(made);
      return made;
    };
    const manager = async () =>
      session.createSessionManager({ store: await store(), dir: join(dir, 'managers') });
    return { store, manager };
  }

  function owner(pid: number): Owner {
    return {
      sessionId: randomUUID(),
      pid,
      hostname: host.hostname,
      hostId: host.id,
      ...(host.stableId ? { stableHostId: host.stableId } : {}),
      processStartTime: '1',
      createdAt: Date.now(),
    };
  }

  function recordOf(who: Owner, vms: readonly string[]): SessionRecordShape {
    const now = Date.now();
    return {
      sessionId: who.sessionId,
      pid: who.pid,
      hostname: who.hostname,
      ...(who.hostId === null ? {} : { hostId: who.hostId }),
      processStartTime: who.processStartTime,
      createdAt: who.createdAt,
      registeredAt: now,
      status: 'active',
      vmId: null,
      zone: null,
      components: [],
      metadata: {},
      resources: vms.map((id) => ({ kind: 'vm', id, registeredAt: now })),
    };
  }

  /** A store attached to a session whose pid is gone (dead on this host whatever its lease says), with its record. */
  async function deadSession(store: () => Promise<Store>, vms: readonly string[]) {
    const who = owner(await deadPid());
    const own = await store();
    own.attach(who);
    await own.writeRecord(recordOf(who, vms));
    return { owner: who, store: own };
  }

  const find = (listed: readonly Stored[], sessionId: string) =>
    listed.find((s) => s.record.sessionId === sessionId);

  describe(`SessionStore contract: ${name}`, () => {
    it('writes, reads and lists a record; removing it removes it from both', { timeout }, async () => {
      const { store } = fleet();
      const who = owner(process.pid);
      const own = await store();
      own.attach(who);
      const record = recordOf(who, ['vm-a', 'vm-b']);
      await own.writeRecord(record);
      const read = await own.readRecord(who.sessionId);
      expect(read?.record.resources.map((r) => r.id)).toEqual(['vm-a', 'vm-b']);
      expect(read?.reaping).toBeUndefined();
      const other = await store();
      expect(find(await other.listSessions(), who.sessionId)?.record.sessionId).toBe(who.sessionId);
      await own.writeRecord({ ...record, resources: record.resources.slice(1), registeredAt: Date.now() });
      expect((await other.readRecord(who.sessionId))?.record.resources.map((r) => r.id)).toEqual(['vm-b']);
      expect(await own.removeRecord(who.sessionId)).toBe(true);
      expect(await other.readRecord(who.sessionId)).toBeNull();
      expect(find(await other.listSessions(), who.sessionId)).toBeUndefined();
    });

    it('a claim is exclusive, idempotent for its holder, and free again once released', {
      timeout,
    }, async () => {
      const { store } = fleet();
      const [a, b] = [owner(process.pid), owner(process.pid)] as [Owner, Owner];
      const [sa, sb] = [await store(), await store()];
      sa.attach(a);
      sb.attach(b);
      const id = `vm-${randomUUID().slice(0, 8)}`;
      const never = () => false;
      expect(await sa.claim({ kind: 'vm', id, owner: a, holderIsDead: never })).toMatchObject({ ok: true });
      const refused = await sb.claim({ kind: 'vm', id, owner: b, holderIsDead: never });
      expect(refused.ok).toBe(false);
      expect(refused.ok ? null : refused.holder.sessionId).toBe(a.sessionId);
      expect(await sa.claim({ kind: 'vm', id, owner: a, holderIsDead: never })).toMatchObject({ ok: true });
      expect((await sb.listClaims('vm')).map((c) => [c.id, c.holder.sessionId])).toEqual([[id, a.sessionId]]);
      expect(await sb.releaseClaim('vm', id, b.sessionId)).toBe(false); // not b's to release
      expect(await sa.releaseClaim('vm', id, a.sessionId)).toBe(true);
      expect(await sb.listClaims('vm')).toEqual([]);
      expect(await sb.claim({ kind: 'vm', id, owner: b, holderIsDead: never })).toMatchObject({ ok: true });
    });

    it(`a dead holder's claim is taken over by exactly one of ${racers} claimants`, { timeout }, async () => {
      const { store } = fleet();
      const dead = await deadSession(store, []);
      const id = `vm-${randomUUID().slice(0, 8)}`;
      expect(
        await dead.store.claim({ kind: 'vm', id, owner: dead.owner, holderIsDead: () => false }),
      ).toMatchObject({
        ok: true,
      });
      const claimants = await Promise.all(
        Array.from({ length: racers }, async () => {
          const who = owner(process.pid);
          const own = await store();
          own.attach(who);
          return { who, own };
        }),
      );
      const outcomes = await Promise.all(
        claimants.map(({ who, own }) =>
          own.claim({
            kind: 'vm',
            id,
            owner: who,
            holderIsDead: (holder) => holder.sessionId === dead.owner.sessionId,
          }),
        ),
      );
      const winners = outcomes.flatMap((o, i) => (o.ok ? [i] : []));
      expect(winners).toHaveLength(1);
      const winner = claimants[winners[0] as number]?.who.sessionId;
      const won = outcomes[winners[0] as number];
      expect(won?.ok && won.takenOverFrom?.sessionId).toBe(dead.owner.sessionId);
      for (const o of outcomes) if (!o.ok) expect(o.holder.sessionId).toBe(winner);
      expect((await dead.store.listClaims('vm')).map((c) => c.holder.sessionId)).toEqual([winner]);
    });

    it(`a dead session is taken over by exactly one of ${racers} reapers; its owner cannot write it back`, {
      timeout,
    }, async () => {
      const { store } = fleet();
      const dead = await deadSession(store, ['vm-1', 'vm-2']);
      const reapers = await Promise.all(
        Array.from({ length: racers }, async () => {
          const who = owner(process.pid);
          const own = await store();
          own.attach(who);
          return { who, own, target: find(await own.listSessions(), dead.owner.sessionId) as Stored };
        }),
      );
      for (const r of reapers) expect(r.target?.record.sessionId).toBe(dead.owner.sessionId);
      const holds = await Promise.all(reapers.map((r) => r.own.takeOver(r.target, r.who)));
      const won = holds.flatMap((h, i) => (h ? [i] : []));
      expect(won).toHaveLength(1);
      const winner = reapers[won[0] as number] as (typeof reapers)[number];
      const hold = holds[won[0] as number];
      expect(hold?.record.resources.map((r) => r.id)).toEqual(['vm-1', 'vm-2']);
      const marked = find(await winner.own.listSessions(), dead.owner.sessionId);
      expect(marked?.reaping?.by.sessionId).toBe(winner.who.sessionId);
      // What was reaped is never written back by its owner.
      await expect(dead.store.writeRecord(recordOf(dead.owner, ['vm-3']))).rejects.toMatchObject({
        code: 'E_SESSION_TAKEN_OVER',
      });
      await hold?.save({ ...(hold.record as SessionRecordShape), resources: hold.record.resources.slice(1) });
      await hold?.finish(null);
      expect(find(await winner.own.listSessions(), dead.owner.sessionId)).toBeUndefined();
    });

    it('reapDeadSessions of three managers at once cleans each resource of a dead session once; a live session stays', {
      timeout,
    }, async () => {
      const { store, manager } = fleet();
      const live = await manager();
      await live.registerResource({ kind: 'vm', id: 'vm-live' });
      const dead = await deadSession(store, ['vm-x', 'vm-y', 'vm-z']);
      const reapers = [await manager(), await manager(), await manager()];
      const cleaned: string[] = [];
      const reports = await Promise.all(
        reapers.map((m) =>
          m.reapDeadSessions({
            cleanup: async (resource, from) => {
              cleaned.push(`${from.sessionId}/${resource.id}`);
              return { ok: true };
            },
          }),
        ),
      );
      expect(cleaned.sort()).toEqual(['vm-x', 'vm-y', 'vm-z'].map((id) => `${dead.owner.sessionId}/${id}`));
      expect(reports.flatMap((r) => r.removed)).toEqual([dead.owner.sessionId]);
      const listed = await dead.store.listSessions();
      expect(find(listed, dead.owner.sessionId)).toBeUndefined();
      expect(find(listed, live.sessionId)?.record.resources.map((r) => r.id)).toEqual(['vm-live']);
      await live.unregisterSession();
    });
  });
}
