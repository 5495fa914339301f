// The session: identity and public API. Record operations are pure
// (record-ops.ts), reaping is written against the store contract (reap.ts),
// liveness is judged in one place (staleness.ts), counters live in
// statistics.ts. This file orders writes: the in-memory record is the
// owner's truth, and what is stored is the last state a write committed.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { type ClaimContext, claimResources } from './claiming.js';
import type {
  ClaimChooser,
  HostIdentity,
  LeaseEvidence,
  ReapedResource,
  ReapOptions,
  ReapReport,
  ReapResult,
  ResourceInput,
  ResourceRecord,
  SessionListing,
  SessionLogger,
  SessionOwner,
  SessionRecord,
  SessionStore,
} from './contract.js';
import { FileSessionStore } from './file-store/store.js';
import { readHostIdentity } from './host.js';
import { removeOwnFiles, tidyDirectory, writeTrackerFile } from './housekeeping.js';
import { judgeStored } from './listing.js';
import { resolveSessionOptions, type SessionManagerOptions } from './options.js';
import { OwnRecord } from './own-record.js';
import { readProcessStartTime } from './process.js';
import { type ReapContext, reapDeadSessions } from './reap.js';
import {
  keepUncleaned,
  withAdopted,
  withHeartbeat,
  withoutResource,
  withoutVm,
  withReplaced,
  withResources,
  withVm,
} from './record-ops.js';
import { checkComponents, checkId, checkKind, checkMetadata, toResourceRecord } from './resources.js';
import { judgeLiveness, lastSignOfLife } from './staleness.js';
import { SessionCounters, type SessionStatistics } from './statistics.js';

export type { SessionStatistics } from './statistics.js';

/** Identity a manager adopts instead of making a new one (how worker threads join their process's session). */
export interface SessionIdentitySeed {
  readonly sessionId: string;
  readonly createdAt: number;
  /** The per-process identity file to remove with the session, if any. */
  readonly processFile?: string | null;
}

const HOUR_MS = 3_600_000;

function isStoppedProcess(resource: ResourceRecord): boolean {
  // This process itself: on the exit path it is ending.
  if (resource.pid === undefined || resource.pid === process.pid) return true;
  const now = readProcessStartTime(resource.pid);
  if (now === null) return true;
  return resource.processStartTime !== undefined && now !== resource.processStartTime;
}

/**
 * One session: which resources this process owns, kept as its own record in
 * a store (no shared registry, no global lock). Use `getSessionManager` for
 * the process-wide one; construct directly (or via `createSessionManager`)
 * for an independent session, e.g. in tests and tools.
 */
export class GlobalSessionManager {
  /** UUID v4 of this session. */
  readonly sessionId: string;
  /** This process. */
  readonly pid: number;
  /** This machine. */
  readonly hostname: string;
  /** Host identity (hostname + machine id + boot id + pid namespace). */
  readonly host: HostIdentity;
  /** Start time of `pid` (see `readProcessStartTime`). */
  readonly processStartTime: string | null;
  /** Epoch ms the session was created. */
  readonly createdAt: number;
  /** The private directory. */
  readonly dir: string;
  /** This session's record file (file store) or `<location>#<sessionId>`. */
  readonly sessionFile: string;
  /** The store's location (see `SessionStatistics.registryFile`). */
  readonly registryFile: string;
  /** This session's tracker file (one per session, never shared). */
  readonly globalTrackerFile: string;
  /** Age limit for sessions whose pid cannot be verified here. */
  readonly maxSessionAgeHours: number;
  /** The `lockTimeoutMs` option as given (compared by `getSessionManager`; it has no effect). */
  readonly lockTimeoutMs: number;
  /** The logger given (or the silent default). */
  readonly logger: SessionLogger;
  /** The store. */
  readonly store: SessionStore;
  /** Whether `store` was passed in (false: the default file store). */
  readonly customStore: boolean;

  private readonly owner: SessionOwner;
  private readonly processFile: string | null;
  private readonly counters = new SessionCounters();
  private readonly own: OwnRecord;

  /**
   * @param options - see {@link SessionManagerOptions}
   * @param seed - identity to adopt (used by `getSessionManager` so worker threads join the process's session)
   * @throws SessionDirUnsafeError when the directory is unsafe; TypeError/RangeError on bad options. Never for a failed write.
   */
  constructor(options: SessionManagerOptions = {}, seed?: SessionIdentitySeed) {
    const resolved = resolveSessionOptions(options);
    this.dir = resolved.dir;
    this.maxSessionAgeHours = resolved.maxSessionAgeHours;
    this.lockTimeoutMs = resolved.lockTimeoutMs;
    this.logger = resolved.logger;
    this.customStore = resolved.store !== undefined;
    this.store =
      resolved.store ??
      new FileSessionStore({ dir: this.dir, logger: this.logger, importFrom: resolved.importFrom });
    this.sessionId = seed?.sessionId ?? randomUUID();
    this.createdAt = seed?.createdAt ?? Date.now();
    this.processFile = seed?.processFile ?? null;
    this.pid = process.pid;
    this.host = readHostIdentity();
    this.hostname = this.host.hostname;
    this.processStartTime = readProcessStartTime(this.pid);
    this.owner = {
      sessionId: this.sessionId,
      pid: this.pid,
      hostname: this.hostname,
      hostId: this.host.id,
      ...(this.host.stableId ? { stableHostId: this.host.stableId } : {}),
      processStartTime: this.processStartTime,
      createdAt: this.createdAt,
    };
    this.own = new OwnRecord(this.store, this.owner);
    this.sessionFile =
      this.store instanceof FileSessionStore
        ? join(this.store.layout.sessionsDir, `${this.sessionId}.json`)
        : `${this.store.location}#${this.sessionId}`;
    this.registryFile = this.store.location;
    this.globalTrackerFile = join(this.dir, `tracker-${this.sessionId}.json`);
    this.writeTracker();
    try {
      this.store.attach(this.owner);
    } catch (error) {
      this.logger.warn({ err: error }, `session store attach failed: ${(error as Error).message}`);
    }
  }

  // ---- the VM API: one VM per session, also a resource of kind `vm` ----------------

  /**
   * Records `vmId` as this session's VM (also as a resource of kind `vm`).
   * @returns true when recorded; false when it could not be written (warned through the logger).
   * @throws TypeError on bad arguments.
   */
  async registerVm(
    vmId: string,
    zone: string,
    components: readonly string[],
    metadata: Readonly<Record<string, unknown>> = {},
  ): Promise<boolean> {
    checkId(vmId, 'registerVm', 'vmId');
    if (typeof zone !== 'string')
      throw new TypeError(`registerVm: "zone" must be a string, got ${JSON.stringify(zone)}`);
    const vm = toResourceRecord(
      {
        kind: 'vm',
        id: vmId,
        zone,
        components: checkComponents(components, 'registerVm'),
        metadata: checkMetadata(metadata, 'registerVm'),
      },
      Date.now(),
      'registerVm',
    );
    try {
      await this.own.apply(withVm(vm, vm.registeredAt));
    } catch (error) {
      this.logger.warn({ err: error, vmId }, `registerVm(${vmId}) failed: ${(error as Error).message}`);
      return false;
    }
    this.counters.vmsRegistered++;
    return true;
  }

  /** This session's record when it has a VM, else null (from memory when the stored record is gone). */
  async getMyVm(): Promise<SessionRecord | null> {
    const record = this.trusted((await this.store.readRecord(this.sessionId).catch(() => undefined))?.record);
    return record?.vmId ? record : null;
  }

  /** Sync {@link GlobalSessionManager.getMyVm}. */
  getMyVmSync(): SessionRecord | null {
    let stored: SessionRecord | undefined;
    try {
      stored = this.store.readRecordSync(this.sessionId)?.record;
    } catch {
      stored = undefined;
    }
    const record = this.trusted(stored);
    return record?.vmId ? record : null;
  }

  /** Forgets this session's VM. @returns true when there was one; false when none (or not written, warned). */
  async unregisterVm(): Promise<boolean> {
    if (!this.own.current?.vmId) return false;
    try {
      await this.own.apply(withoutVm(Date.now()));
    } catch (error) {
      this.logger.warn({ err: error }, `unregisterVm failed: ${(error as Error).message}`);
      return false;
    }
    this.counters.vmsUnregistered++;
    return true;
  }

  /** Sync {@link GlobalSessionManager.unregisterVm}, for `process.on('exit')`. */
  unregisterVmSync(): boolean {
    if (!this.own.current?.vmId || !this.own.applySync(withoutVm(Date.now()))) return false;
    this.counters.vmsUnregistered++;
    return true;
  }

  // ---- resources ------------------------------------------------------------------

  /**
   * Records a resource this session owns (upsert by kind + id).
   * @throws TypeError on a bad resource; `SessionError` (`E_SESSION_WRITE_FAILED`, …) when not written.
   */
  async registerResource(input: ResourceInput): Promise<ResourceRecord> {
    const record = toResourceRecord(input, Date.now(), 'registerResource');
    await this.own.apply(withResources([record], record.registeredAt));
    return record;
  }

  /** Drops a resource of this session (and its claim). @returns whether it was registered. */
  async unregisterResource(kind: string, id: string): Promise<boolean> {
    checkKind(kind, 'unregisterResource');
    checkId(id, 'unregisterResource');
    const found = this.own.current?.resources.find((r) => r.kind === kind && r.id === id);
    if (!found) return false;
    await this.own.apply(withoutResource(kind, id, Date.now()));
    if (found.claimed)
      await this.store
        .releaseClaim(kind, id, this.sessionId)
        .catch((e: unknown) => this.warnClaim(e, kind, id));
    return true;
  }

  /**
   * Records `input` and drops the resource `kind` + `replacedId` in ONE write
   * (e.g. a restarted process replacing its predecessor): no reader ever sees
   * both or neither, and a failed write leaves the previous record as it was.
   * The replaced resource's claim, if it had one, is released after the write.
   * @returns the new resource's record.
   * @throws TypeError on a bad resource; `SessionError` when not written.
   */
  async replaceResource(kind: string, replacedId: string, input: ResourceInput): Promise<ResourceRecord> {
    checkKind(kind, 'replaceResource');
    checkId(replacedId, 'replaceResource');
    const record = toResourceRecord(input, Date.now(), 'replaceResource');
    const found = this.own.current?.resources.find((r) => r.kind === kind && r.id === replacedId);
    await this.own.apply(withReplaced(kind, replacedId, record, record.registeredAt));
    const sameResource = record.kind === kind && record.id === replacedId;
    if (found?.claimed && !sameResource)
      await this.store
        .releaseClaim(kind, replacedId, this.sessionId)
        .catch((e: unknown) => this.warnClaim(e, kind, replacedId));
    return record;
  }

  /** Sync {@link GlobalSessionManager.unregisterResource}. @returns whether it was registered and is now dropped. */
  unregisterResourceSync(kind: string, id: string): boolean {
    checkKind(kind, 'unregisterResourceSync');
    checkId(id, 'unregisterResourceSync');
    const found = this.own.current?.resources.find((r) => r.kind === kind && r.id === id);
    if (!found || !this.own.applySync(withoutResource(kind, id, Date.now()))) return false;
    if (found.claimed) this.store.releaseClaimSync(kind, id, this.sessionId);
    return true;
  }

  /** Every resource this session owns. */
  async getMyResources(): Promise<ResourceRecord[]> {
    return [...(this.own.current?.resources ?? [])];
  }

  /** Sync {@link GlobalSessionManager.getMyResources}. */
  getMyResourcesSync(): ResourceRecord[] {
    return [...(this.own.current?.resources ?? [])];
  }

  /**
   * Chooses and claims resources of `kind`: the chooser gets the ids of `kind`
   * held by other live sessions; each id it returns is claimed by exclusive
   * create (a dead holder's claim is taken over) and registered for this
   * session. When another session wins one meanwhile, the claims made are
   * released and the chooser runs again (so it may run more than once), with a
   * jittered backoff, for up to 10 s.
   *
   * @throws SessionClaimConflictError when the chooser returns an id another live session holds, or keeps losing.
   */
  async claimResources(kind: string, chooser: ClaimChooser): Promise<ResourceRecord[]> {
    checkKind(kind, 'claimResources');
    if (typeof chooser !== 'function')
      throw new TypeError(`claimResources: "chooser" must be a function, got ${typeof chooser}`);
    return claimResources(this.claimContext(), kind, chooser);
  }

  // ---- sessions -------------------------------------------------------------------

  /** Every session with its liveness (read-only: nothing is created, moved or removed). */
  async listSessions(): Promise<SessionListing[]> {
    const listed = await this.store.listSessions();
    return listed.map((stored) =>
      judgeStored(stored, { now: Date.now(), maxAgeMs: this.maxAgeMs, host: this.host }),
    );
  }

  /** Every session not provably dead (this one included), by sessionId; dead ones with nothing to clean up are removed on the way. */
  async getAllActiveSessions(): Promise<Record<string, SessionRecord>> {
    await this.cleanupStaleSessions();
    const out: Record<string, SessionRecord> = {};
    for (const listing of await this.listSessions())
      if (listing.liveness !== 'dead' && !listing.reaping) out[listing.record.sessionId] = listing.record;
    return out;
  }

  /**
   * Removes dead sessions that leave nothing to clean up (no resources, port
   * reservations, child processes verifiably gone). Dead sessions owning a VM
   * or anything else are left for `reapDeadSessions`, which runs cleanups:
   * nothing is forgotten. @returns how many this call removed.
   */
  async cleanupStaleSessions(): Promise<number> {
    const trivial = (r: ResourceRecord) => r.kind === 'port' || (r.kind === 'process' && isStoppedProcess(r));
    const report = await reapDeadSessions(
      {
        ...this.reapContext(),
        accept: (s) =>
          judgeLiveness(s.record, this.livenessOf(s.lease)).thisHost
            ? s.record.resources.every(trivial)
            : s.record.resources.length === 0,
      },
      { cleanup: async () => ({ ok: true }), adopt: false },
    );
    this.counters.countRemoved(report.removed.length);
    this.tidy();
    return report.removed.length;
  }

  /**
   * Takes dead sessions over and hands them to the caller: their resources
   * are adopted by this session in one write (`metadata.adoptedFrom`), so
   * nothing is lost if the caller dies; the caller cleans each up and
   * unregisters it. Prefer {@link GlobalSessionManager.reapDeadSessions}.
   */
  async reapStaleSessions(): Promise<ReapResult> {
    const handed = new Map<string, SessionRecord>();
    const report = await reapDeadSessions(this.reapContext(), {
      cleanup: async (_resource, owner) => {
        handed.set(owner.sessionId, owner);
        return { ok: false, detail: 'handed to the caller' };
      },
      adopt: true,
    });
    this.counters.countRemoved(report.removed.length);
    const reapable = [...handed.values()].map((record) => ({ ...record, status: 'stale' as const }));
    return { removed: report.removed.length, reapable };
  }

  /**
   * Reaps dead sessions: takes each over atomically, runs `cleanup` for its
   * resources (at most `concurrency` at once, default 8), removes a resource
   * only after its cleanup succeeded, adopts failed ones in one write (or
   * leaves them, `adopt: false`), refuses ids/zones that would become command
   * options. A reaper killed mid-way leaves everything reapable again.
   */
  async reapDeadSessions(options: ReapOptions): Promise<ReapReport> {
    const report = await reapDeadSessions(this.reapContext(), options);
    this.counters.countRemoved(report.removed.length);
    this.tidy();
    return report;
  }

  /**
   * Removes this session's record and claims, and its own tracker and process
   * files: the shutdown path, after the caller stopped and cleaned up what it owns.
   * @returns whether the session had a record.
   * @throws `SessionError` when the record could not be removed (files are then kept).
   */
  async unregisterSession(): Promise<boolean> {
    const existed = this.own.current !== null;
    const claimed = (this.own.current?.resources ?? []).filter((r) => r.claimed);
    await this.own.apply((record) => ({ ...record, vmId: null, resources: [] }));
    for (const r of claimed)
      await this.store
        .releaseClaim(r.kind, r.id, this.sessionId)
        .catch((e: unknown) => this.warnClaim(e, r.kind, r.id));
    this.removeOwnFiles();
    return existed;
  }

  /**
   * The exit path (`process.on('exit')`): removes only what needs no cleanup
   * once this process is gone — port reservations and child processes
   * verifiably stopped. VMs, adopted resources and anything whose cleanup
   * never ran stay recorded; the session then turns dead and a reaper cleans
   * them up. Never throws: a failed write is warned about and gives false.
   * @returns whether the session had a record and the store was updated.
   */
  unregisterSessionSync(): boolean {
    const before = this.own.current;
    if (before === null) {
      this.removeOwnFiles();
      return false;
    }
    try {
      if (!this.own.applySync(keepUncleaned(isStoppedProcess, Date.now()))) return false;
      const kept = new Set((this.own.current?.resources ?? []).map((r) => `${r.kind}\0${r.id}`));
      for (const r of before.resources)
        if (r.claimed && !kept.has(`${r.kind}\0${r.id}`))
          this.store.releaseClaimSync(r.kind, r.id, this.sessionId);
      if (this.own.current === null) this.removeOwnFiles();
      return true;
    } catch (error) {
      this.logger.warn({ err: error }, `unregisterSessionSync failed: ${(error as Error).message}`);
      return false;
    }
  }

  /** Identity, uptime and counters, from memory (sync, no I/O). */
  getStatistics(): SessionStatistics {
    return this.counters.snapshot(
      { sessionId: this.sessionId, pid: this.pid, hostname: this.hostname, createdAt: this.createdAt },
      this.own.current,
      {
        sessionFile: this.sessionFile,
        registryFile: this.registryFile,
        globalTrackerFile: this.globalTrackerFile,
      },
      Date.now(),
    );
  }

  /** Whether a record read from a store may be trusted as this session's: same sessionId, pid, hostname, start time, and younger than the age limit. */
  isOwnRecord(
    record: Pick<
      SessionRecord,
      'sessionId' | 'pid' | 'hostname' | 'createdAt' | 'heartbeatAt' | 'processStartTime'
    >,
  ): boolean {
    return (
      record.sessionId === this.sessionId &&
      record.pid === this.pid &&
      record.hostname === this.hostname &&
      record.processStartTime === this.processStartTime &&
      Date.now() - lastSignOfLife(record) <= this.maxAgeMs
    );
  }

  /** Records that this session is alive (`heartbeatAt`). @returns whether it has a record that was refreshed. */
  async heartbeat(): Promise<boolean> {
    if (this.own.current === null) return false;
    await this.own.apply(withHeartbeat(Date.now()));
    return true;
  }

  // ---- internals ------------------------------------------------------------------

  private get maxAgeMs(): number {
    return this.maxSessionAgeHours * HOUR_MS;
  }

  private livenessOf(lease: LeaseEvidence) {
    return { now: Date.now(), maxAgeMs: this.maxAgeMs, host: this.host, lease };
  }

  private readonly holderIsDead = (holder: SessionOwner, lease: LeaseEvidence): boolean =>
    judgeLiveness(holder, this.livenessOf(lease)).liveness === 'dead';

  private claimContext(): ClaimContext {
    return {
      store: this.store,
      owner: this.owner,
      host: this.host,
      record: this.own,
      logger: this.logger,
      holderIsDead: this.holderIsDead,
    };
  }

  private reapContext(): ReapContext {
    return {
      store: this.store,
      me: this.owner,
      host: this.host,
      maxAgeMs: this.maxAgeMs,
      now: Date.now,
      logger: this.logger,
      adopt: async (items: readonly ReapedResource[]) => {
        await this.own.apply(
          withAdopted(
            items.map((i) => ({
              from: i.sessionId,
              resource: i.resource,
              error: i.detail ?? 'cleanup failed',
            })),
            Date.now(),
          ),
        );
        return true;
      },
    };
  }

  /** A stored record, when it is this session's own; else (missing, foreign, unreadable) the in-memory record. */
  private trusted(stored: SessionRecord | undefined | null): SessionRecord | null {
    if (stored && this.isOwnRecord(stored)) return stored;
    return this.own.current;
  }

  private writeTracker(): void {
    writeTrackerFile(
      this.globalTrackerFile,
      {
        format: 'core-session-tracker',
        sessionId: this.sessionId,
        pid: this.pid,
        hostname: this.hostname,
        processStartTime: this.processStartTime,
        createdAt: this.createdAt,
        sessionFile: this.sessionFile,
        registryFile: this.registryFile,
      },
      this.logger,
    );
  }

  private removeOwnFiles(): void {
    removeOwnFiles([this.globalTrackerFile, this.processFile], this.logger);
  }

  private tidy(): void {
    if (this.store instanceof FileSessionStore)
      tidyDirectory(this.store, this.dir, this.hostname, this.logger);
  }

  private warnClaim(error: unknown, kind: string, id: string): void {
    this.logger.warn(
      { err: error, kind, id },
      `could not release the claim ${kind} ${id}: ${(error as Error).message}`,
    );
  }
}
