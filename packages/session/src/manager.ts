import { randomUUID } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type {
  ClaimChooser,
  ReapResult,
  ResourceInput,
  ResourceRecord,
  SessionLogger,
  SessionRecord,
} from './contract.js';
import { SessionClaimConflictError } from './errors.js';
import {
  ensurePrivateDir,
  type PrivateRead,
  quarantineSync,
  readPrivateFile,
  readPrivateFileSync,
  removeFileSync,
  writePrivateFileSync,
} from './files.js';
import { removeLeftoverFiles } from './housekeeping.js';
import { resolveSessionOptions, type SessionManagerOptions } from './options.js';
import { readProcessStartTime } from './process.js';
import {
  checkComponents,
  checkId,
  checkKind,
  checkMetadata,
  toResourceRecord,
  upsertResource,
} from './resources.js';
import { parseWith, SessionRecordSchema, type TrackerFile, toSessionRecord } from './schema.js';
import { judgeSession, lastSignOfLife, type SessionLiveness } from './staleness.js';
import { FileRegistryStore, type RegistryData, type RegistryStore, type UpdateContext } from './store.js';

/** Identity a manager adopts instead of making a new one (how worker threads join their process's session). */
export interface SessionIdentitySeed {
  readonly sessionId: string;
  readonly createdAt: number;
  /** The per-process identity file to remove with the session, if any. */
  readonly processFile?: string | null;
}

/** What `getStatistics()` reports. */
export interface SessionStatistics {
  readonly sessionId: string;
  readonly pid: number;
  readonly hostname: string;
  readonly createdAt: number;
  readonly uptimeSeconds: number;
  /** Whether this manager last saw a VM registered for the session. */
  readonly hasVm: boolean;
  readonly vmId: string | null;
  /** Resources this manager last saw registered for the session. */
  readonly resourceCount: number;
  readonly vmsRegistered: number;
  readonly vmsUnregistered: number;
  /** Registry updates by this manager that removed at least one stale session. */
  readonly registryCleanups: number;
  /** Every stale session this manager removed, by any call. */
  readonly staleSessionsRemoved: number;
  readonly sessionFile: string;
  readonly registryFile: string;
  readonly globalTrackerFile: string;
}

const HOUR_MS = 3_600_000;

/**
 * One session: which resources this process owns, recorded in a shared,
 * locked, crash-safe registry. Use {@link getSessionManager} for the
 * process-wide one; construct directly (or via `createSessionManager`) for an
 * independent session, e.g. in tests and tools.
 */
export class GlobalSessionManager {
  /** UUID v4 of this session. */
  readonly sessionId: string;
  /** This process. */
  readonly pid: number;
  /** This machine. */
  readonly hostname: string;
  /** Start time of `pid` (see `readProcessStartTime`). */
  readonly processStartTime: string | null;
  /** Epoch ms the session was created. */
  readonly createdAt: number;
  /** The private directory. */
  readonly dir: string;
  /** This session's own record file. */
  readonly sessionFile: string;
  /** The shared registry (the store's location). */
  readonly registryFile: string;
  /** This session's global tracker file (one per session, never shared). */
  readonly globalTrackerFile: string;
  /** Age limit of sessions. */
  readonly maxSessionAgeHours: number;
  /** Bounded wait for the registry lock. */
  readonly lockTimeoutMs: number;
  /** The logger given (or the silent default). */
  readonly logger: SessionLogger;
  /** The registry store. */
  readonly store: RegistryStore;
  /** Whether `store` was passed in (false: the default file store). */
  readonly customStore: boolean;

  private readonly processFile: string | null;
  private mine: SessionRecord | null = null;
  private vmsRegistered = 0;
  private vmsUnregistered = 0;
  private registryCleanups = 0;
  private staleSessionsRemoved = 0;

  /**
   * @param options - see {@link SessionManagerOptions}
   * @param seed - identity to adopt (used by `getSessionManager` so worker threads join the process's session)
   * @throws SessionDirUnsafeError when the directory is unsafe; TypeError/RangeError on bad options.
   */
  constructor(options: SessionManagerOptions = {}, seed?: SessionIdentitySeed) {
    const resolved = resolveSessionOptions(options);
    ensurePrivateDir(resolved.dir);
    this.dir = resolved.dir;
    this.maxSessionAgeHours = resolved.maxSessionAgeHours;
    this.lockTimeoutMs = resolved.lockTimeoutMs;
    this.logger = resolved.logger;
    this.customStore = resolved.store !== undefined;
    this.store =
      resolved.store ??
      new FileRegistryStore({ dir: this.dir, lockTimeoutMs: this.lockTimeoutMs, logger: this.logger });
    this.sessionId = seed?.sessionId ?? randomUUID();
    this.createdAt = seed?.createdAt ?? Date.now();
    this.processFile = seed?.processFile ?? null;
    this.pid = process.pid;
    this.hostname = osHostname();
    this.processStartTime = readProcessStartTime(this.pid);
    this.sessionFile = join(this.dir, `session-${this.sessionId}.json`);
    this.globalTrackerFile = join(this.dir, `tracker-${this.sessionId}.json`);
    this.registryFile = this.store.location;
    const tracker: TrackerFile = {
      format: 'core-session-tracker',
      sessionId: this.sessionId,
      pid: this.pid,
      hostname: this.hostname,
      processStartTime: this.processStartTime,
      createdAt: this.createdAt,
      sessionFile: this.sessionFile,
      registryFile: this.registryFile,
    };
    writePrivateFileSync(this.globalTrackerFile, `${JSON.stringify(tracker, null, 2)}\n`, { fsync: false });
    this.store.attachSession?.({
      sessionId: this.sessionId,
      pid: this.pid,
      hostname: this.hostname,
      processStartTime: this.processStartTime,
      createdAt: this.createdAt,
    });
  }

  // ---- the VM API of the original -------------------------------------------------

  /**
   * Records `vmId` as this session's VM (also as a resource of kind `vm`).
   *
   * @returns true when recorded; false when the registry could not be written (warned through the logger).
   * @throws TypeError on bad arguments.
   */
  async registerVm(
    vmId: string,
    zone: string,
    components: readonly string[],
    metadata: Readonly<Record<string, unknown>> = {},
  ): Promise<boolean> {
    const caller = 'registerVm';
    checkId(vmId, caller, 'vmId');
    if (typeof zone !== 'string')
      throw new TypeError(`${caller}: "zone" must be a string, got ${JSON.stringify(zone)}`);
    const comps = checkComponents(components, caller);
    const meta = checkMetadata(metadata, caller);
    try {
      await this.update((draft, context) => {
        const now = Date.now();
        const current = this.current(draft, context);
        const resource = toResourceRecord(
          { kind: 'vm', id: vmId, zone, components: comps, metadata: meta },
          now,
          caller,
        );
        this.commit(draft, {
          ...current,
          registeredAt: now,
          vmId,
          zone,
          components: comps,
          metadata: meta,
          resources: upsertResource(current.resources, resource),
        });
      });
    } catch (error) {
      this.logger.warn({ err: error, vmId }, `registerVm(${vmId}) failed: ${(error as Error).message}`);
      return false;
    }
    this.vmsRegistered++;
    return true;
  }

  /** This session's record when it has a VM, else null. */
  async getMyVm(): Promise<SessionRecord | null> {
    const record = this.ownRecord(await readPrivateFile(this.sessionFile));
    return record?.vmId ? record : null;
  }

  /** Sync {@link GlobalSessionManager.getMyVm}. */
  getMyVmSync(): SessionRecord | null {
    const record = this.ownRecord(readPrivateFileSync(this.sessionFile));
    return record?.vmId ? record : null;
  }

  /** Forgets this session's VM. @returns true when there was one; false when none (or the registry could not be written, warned). */
  async unregisterVm(): Promise<boolean> {
    try {
      return this.countUnregistered(await this.update((draft, context) => this.dropVm(draft, context)));
    } catch (error) {
      this.logger.warn({ err: error }, `unregisterVm failed: ${(error as Error).message}`);
      return false;
    }
  }

  /** Sync {@link GlobalSessionManager.unregisterVm}, for `process.on('exit')`. */
  unregisterVmSync(): boolean {
    try {
      return this.countUnregistered(this.updateSync((draft, context) => this.dropVm(draft, context)));
    } catch (error) {
      this.logger.warn({ err: error }, `unregisterVmSync failed: ${(error as Error).message}`);
      return false;
    }
  }

  // ---- resources ------------------------------------------------------------------

  /**
   * Records a resource this session owns (upsert by kind + id).
   *
   * @throws TypeError on a bad resource; the store's errors (e.g. `SessionLockTimeoutError`).
   */
  async registerResource(input: ResourceInput): Promise<ResourceRecord> {
    const record = toResourceRecord(input, Date.now(), 'registerResource');
    await this.update((draft, context) => {
      const current = this.current(draft, context);
      this.commit(draft, {
        ...current,
        registeredAt: record.registeredAt,
        resources: upsertResource(current.resources, record),
      });
    });
    return record;
  }

  /** Drops a resource of this session. @returns whether it was registered. */
  async unregisterResource(kind: string, id: string): Promise<boolean> {
    checkKind(kind, 'unregisterResource');
    checkId(id, 'unregisterResource');
    return this.update((draft, context) => this.dropResource(draft, context, kind, id));
  }

  /** Sync {@link GlobalSessionManager.unregisterResource}. */
  unregisterResourceSync(kind: string, id: string): boolean {
    checkKind(kind, 'unregisterResourceSync');
    checkId(id, 'unregisterResourceSync');
    return this.updateSync((draft, context) => this.dropResource(draft, context, kind, id));
  }

  /** Every resource this session owns. */
  async getMyResources(): Promise<ResourceRecord[]> {
    return [...(this.ownRecord(await readPrivateFile(this.sessionFile))?.resources ?? [])];
  }

  /** Sync {@link GlobalSessionManager.getMyResources}. */
  getMyResourcesSync(): ResourceRecord[] {
    return [...(this.ownRecord(readPrivateFileSync(this.sessionFile))?.resources ?? [])];
  }

  /**
   * Chooses and registers resources of `kind` under the registry lock: the
   * chooser gets the ids of `kind` owned by other live sessions, and what it
   * returns is registered for this session before the lock is released.
   *
   * @throws SessionClaimConflictError when the chooser returns an id of `kind` another live session owns.
   */
  async claimResources(kind: string, chooser: ClaimChooser): Promise<ResourceRecord[]> {
    checkKind(kind, 'claimResources');
    if (typeof chooser !== 'function')
      throw new TypeError(`claimResources: "chooser" must be a function, got ${typeof chooser}`);
    return this.update(async (draft, context) => {
      const now = Date.now();
      const taken = new Set<string>();
      const hostScoped = this.store.resourceScope?.(kind) === 'host';
      for (const record of Object.values(draft.sessions)) {
        if (record.sessionId === this.sessionId || (hostScoped && record.hostname !== this.hostname))
          continue;
        if (this.judge(record, now) === 'stale') continue;
        for (const r of record.resources) if (r.kind === kind) taken.add(r.id);
      }
      const chosen = await chooser(taken);
      if (!Array.isArray(chosen))
        throw new TypeError('claimResources: the chooser must return an array of resources');
      const records = chosen.map((input: ResourceInput) =>
        toResourceRecord(input, Date.now(), 'claimResources'),
      );
      for (const r of records)
        if (r.kind === kind && taken.has(r.id)) throw new SessionClaimConflictError(kind, r.id);
      if (records.length > 0) {
        const current = this.current(draft, context);
        let resources: ResourceRecord[] = [...current.resources];
        for (const r of records) resources = upsertResource(resources, r);
        this.commit(draft, { ...current, registeredAt: Date.now(), resources });
      }
      return records;
    });
  }

  // ---- sessions -------------------------------------------------------------------

  /**
   * Every live session (this one and other hosts' included) by sessionId;
   * stale entries are removed from the registry on the way.
   */
  async getAllActiveSessions(): Promise<Record<string, SessionRecord>> {
    const { remaining } = await this.reap();
    return remaining;
  }

  /** Removes stale sessions. @returns how many this call removed. */
  async cleanupStaleSessions(): Promise<number> {
    return (await this.reap()).removed;
  }

  /** Removes stale sessions and returns them with everything they owned, for the caller to clean up. */
  async reapStaleSessions(): Promise<ReapResult> {
    const { removed, reapable } = await this.reap();
    return { removed, reapable };
  }

  /**
   * Removes this session (all its resources) from the registry, and its own
   * session, tracker and process files. The shutdown path.
   *
   * @returns whether the session had an entry.
   * @throws the store's errors (e.g. `SessionLockTimeoutError`); the files are then kept.
   */
  async unregisterSession(): Promise<boolean> {
    const existed = await this.update((draft) => this.dropSession(draft));
    this.removeOwnFiles();
    return existed;
  }

  /**
   * Sync {@link GlobalSessionManager.unregisterSession}, for `process.on('exit')`.
   * Never throws (an exit handler has no one to report to): when the registry
   * cannot be written it warns through the logger, keeps this session's files
   * (the entry is still registered and will be reaped as stale) and returns false.
   */
  unregisterSessionSync(): boolean {
    let existed: boolean;
    try {
      existed = this.updateSync((draft) => this.dropSession(draft));
    } catch (error) {
      this.logger.warn({ err: error }, `unregisterSessionSync failed: ${(error as Error).message}`);
      return false;
    }
    this.removeOwnFiles();
    return existed;
  }

  /** Identity, uptime and counters, from memory (sync, no I/O). */
  getStatistics(): SessionStatistics {
    return {
      sessionId: this.sessionId,
      pid: this.pid,
      hostname: this.hostname,
      createdAt: this.createdAt,
      uptimeSeconds: Math.max(0, (Date.now() - this.createdAt) / 1000),
      hasVm: this.mine?.vmId != null,
      vmId: this.mine?.vmId ?? null,
      resourceCount: this.mine?.resources.length ?? 0,
      vmsRegistered: this.vmsRegistered,
      vmsUnregistered: this.vmsUnregistered,
      registryCleanups: this.registryCleanups,
      staleSessionsRemoved: this.staleSessionsRemoved,
      sessionFile: this.sessionFile,
      registryFile: this.registryFile,
      globalTrackerFile: this.globalTrackerFile,
    };
  }

  /**
   * Whether a session record read from a file may be trusted as this
   * session's: same sessionId, pid, hostname (and process start time), and
   * younger than the age limit.
   */
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
      Date.now() - lastSignOfLife(record) <= this.maxSessionAgeHours * HOUR_MS
    );
  }

  /**
   * Records that this session is alive (`heartbeatAt`), under the registry
   * lock. The age limit counts from the latest heartbeat, so an owner that
   * runs for longer than `maxSessionAgeHours` calls this periodically (the
   * system-manager does on its validation interval). A session that owns
   * nothing has no registry entry and nothing to refresh.
   *
   * @returns whether this session has an entry that was refreshed.
   */
  async heartbeat(): Promise<boolean> {
    return this.update((draft) => {
      const current = draft.sessions[this.sessionId];
      if (!current) return false;
      this.commit(draft, { ...current, heartbeatAt: Date.now() });
      return true;
    });
  }

  // ---- internals ------------------------------------------------------------------

  private judge(record: SessionRecord, now: number): SessionLiveness {
    const byStore = this.store.judgeSession?.(record, now);
    if (byStore !== undefined) return byStore;
    return judgeSession(record, {
      now,
      maxAgeMs: this.maxSessionAgeHours * HOUR_MS,
      hostname: this.hostname,
    });
  }

  /** Every update starts by putting back this session's live state when the stored registry had to be reset. */
  private restore(draft: RegistryData, context: UpdateContext): void {
    if (context.recovered && this.mine && !draft.sessions[this.sessionId])
      draft.sessions[this.sessionId] = this.mine;
  }

  private update<T>(mutate: (draft: RegistryData, context: UpdateContext) => T | Promise<T>): Promise<T> {
    return this.store.update((draft, context) => {
      this.restore(draft, context);
      return mutate(draft, context);
    });
  }

  private updateSync<T>(mutate: (draft: RegistryData, context: UpdateContext) => T): T {
    return this.store.updateSync((draft, context) => {
      this.restore(draft, context);
      return mutate(draft, context);
    });
  }

  private emptyRecord(): SessionRecord {
    return {
      sessionId: this.sessionId,
      pid: this.pid,
      hostname: this.hostname,
      processStartTime: this.processStartTime,
      createdAt: this.createdAt,
      registeredAt: Date.now(),
      status: 'active',
      vmId: null,
      zone: null,
      components: [],
      metadata: {},
      resources: [],
    };
  }

  private current(draft: RegistryData, context: UpdateContext): SessionRecord {
    return draft.sessions[this.sessionId] ?? (context.recovered ? this.mine : null) ?? this.emptyRecord();
  }

  /** Stores `next` as this session's entry (or removes the entry when it owns nothing) and mirrors it to the session file, under the lock. */
  private commit(draft: RegistryData, next: SessionRecord): void {
    if (next.vmId === null && next.resources.length === 0) {
      delete draft.sessions[this.sessionId];
      removeFileSync(this.sessionFile);
      this.mine = null;
      return;
    }
    draft.sessions[this.sessionId] = next;
    writePrivateFileSync(this.sessionFile, `${JSON.stringify(next, null, 2)}\n`, { fsync: false });
    this.mine = next;
  }

  private dropVm(draft: RegistryData, context: UpdateContext): boolean {
    const current = this.current(draft, context);
    if (current.vmId === null) return false;
    const vmId = current.vmId;
    this.commit(draft, {
      ...current,
      registeredAt: Date.now(),
      vmId: null,
      zone: null,
      components: [],
      metadata: {},
      resources: current.resources.filter((r) => !(r.kind === 'vm' && r.id === vmId)),
    });
    return true;
  }

  private dropResource(draft: RegistryData, context: UpdateContext, kind: string, id: string): boolean {
    const current = this.current(draft, context);
    const resources = current.resources.filter((r) => !(r.kind === kind && r.id === id));
    if (resources.length === current.resources.length) return false;
    const dropsVm = kind === 'vm' && current.vmId === id;
    this.commit(draft, {
      ...current,
      registeredAt: Date.now(),
      resources,
      ...(dropsVm ? { vmId: null, zone: null, components: [], metadata: {} } : {}),
    });
    return true;
  }

  private dropSession(draft: RegistryData): boolean {
    const existed = draft.sessions[this.sessionId] !== undefined;
    delete draft.sessions[this.sessionId];
    this.mine = null;
    return existed;
  }

  private removeOwnFiles(): void {
    for (const file of [this.sessionFile, this.globalTrackerFile, this.processFile]) {
      if (file === null) continue;
      try {
        removeFileSync(file);
      } catch (error) {
        this.logger.warn({ err: error, file }, `could not remove session file ${file}`);
      }
    }
  }

  private countUnregistered(unregistered: boolean): boolean {
    if (unregistered) this.vmsUnregistered++;
    return unregistered;
  }

  private async reap(): Promise<{
    removed: number;
    reapable: SessionRecord[];
    remaining: Record<string, SessionRecord>;
  }> {
    const result = await this.update((draft) => {
      const now = Date.now();
      const reapable: SessionRecord[] = [];
      for (const record of Object.values(draft.sessions)) {
        if (record.sessionId === this.sessionId) continue;
        if (this.judge(record, now) !== 'stale') continue;
        delete draft.sessions[record.sessionId];
        reapable.push({ ...record, status: 'stale' });
      }
      return { removed: reapable.length, reapable, remaining: { ...draft.sessions } };
    });
    this.staleSessionsRemoved += result.removed;
    if (result.removed > 0) this.registryCleanups++;
    for (const record of result.reapable) {
      removeFileSync(join(this.dir, `session-${record.sessionId}.json`));
      removeFileSync(join(this.dir, `tracker-${record.sessionId}.json`));
    }
    this.removeLeftovers();
    return result;
  }

  /** Tracker and process files of dead sessions that never registered anything, and temp files of killed writers. */
  private removeLeftovers(): void {
    try {
      removeLeftoverFiles(this.dir, this.hostname);
    } catch (error) {
      this.logger.warn(
        { err: error, dir: this.dir },
        `could not tidy the session directory: ${(error as Error).message}`,
      );
    }
  }

  /** This session's record from its session file, trusted only after the ownership check; else the in-memory state. */
  private ownRecord(read: PrivateRead): SessionRecord | null {
    if (read.kind === 'missing') {
      return null;
    }
    if (read.kind === 'unsafe') {
      quarantineSync(this.sessionFile, read.reason, this.logger);
      return this.mine;
    }
    const parsed = parseWith(SessionRecordSchema, read.text);
    if (!parsed.ok) {
      quarantineSync(this.sessionFile, parsed.reason, this.logger);
      return this.mine;
    }
    const record = toSessionRecord(parsed.value);
    if (!this.isOwnRecord(record)) {
      if (
        record.sessionId !== this.sessionId ||
        record.pid !== this.pid ||
        record.hostname !== this.hostname
      ) {
        quarantineSync(this.sessionFile, 'it belongs to another session', this.logger);
      }
      return this.mine;
    }
    this.mine = record;
    return record;
  }
}
