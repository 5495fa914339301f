import { EventEmitter } from 'node:events';
import type { SessionLogger, SessionOwner, SessionRecord, SessionStore } from '@core/session';
import type {
  ClaimOutcome,
  ClaimRequest,
  ReapTakeover,
  StoredClaim,
  StoredSession,
} from '@core/session/store';
import { ownerOf } from '@core/session/store';
import { claim, releaseClaim } from './claims.js';
import { Connection } from './connection.js';
import { RedisLeaseConflictError, RedisStoreCorruptError, RedisStoreSyncError } from './errors.js';
import { KeyLayout } from './keys.js';
import { OwnLease } from './lease.js';
import type { LeaseRenewal } from './lease-renewal.js';
import { readLeaseTtls } from './lease-ttl.js';
import { importV1 } from './migration.js';
import { type RedisSessionStoreOptions, type ResolvedRedisOptions, resolveRedisOptions } from './options.js';
import { type ReadContext, readAll, readClaims, readOne } from './reading.js';
import { isSignatureRefusal } from './signing.js';
import { takeOver } from './takeover.js';

export type { LeaseRenewal } from './lease-renewal.js';

/** Events of {@link RedisSessionStore} and their payloads. */
export interface RedisSessionStoreEvents {
  /** The connection was lost (emitted once per outage). */
  outage: [{ readonly at: number; readonly error: Error | null }];
  /** The server answers again after an outage. */
  reconnected: [{ readonly at: number; readonly downtimeMs: number }];
  /** This session's lease had expired (or the server lost its data) and was re-established — or could not be, because a reaper took the record over. */
  leaseRenewed: [LeaseRenewal];
}

const SILENT: SessionLogger = { warn() {} };

/**
 * A `SessionStore` (the contract of `@core/session`) on Redis, for a fleet
 * of machines: one hash per session changed by compare-and-set scripts (no
 * fleet-wide version, no lock), a lease per session (a key with a TTL that
 * the owner's heartbeat refreshes), claims by `SET NX` naming the holder, and
 * reaping by take-over. Liveness is judged by `@core/session` from the
 * evidence this store hands over: on the owner's own host its pid decides,
 * elsewhere its lease.
 *
 * One store keeps the lease of one session: pass a new store to each session
 * manager (`createSessionManager({ store })`), and `close()` it after
 * `unregisterSession()` so the connection does not keep the process alive.
 */
export class RedisSessionStore implements SessionStore {
  /** The server, password redacted, and the key prefix. */
  readonly location: string;
  /** Lifetime of a lease without a heartbeat (ms). */
  readonly leaseTtlMs: number;
  /** Heartbeat interval (ms). */
  readonly heartbeatMs: number;
  /** Prefix of every key. */
  readonly keyPrefix: string;

  private readonly options: ResolvedRedisOptions;
  private readonly logger: SessionLogger;
  private readonly connection: Connection;
  private readonly keys: KeyLayout;
  private readonly events = new EventEmitter();
  private readonly own: OwnLease;
  private readonly corruptWarned = new Set<string>();
  private readonly unverified = new Set<string>();
  private owner: SessionOwner | null = null;
  private closed = false;
  private imported = false;

  /** @throws TypeError / RangeError on bad options (nothing is connected then). */
  constructor(options: RedisSessionStoreOptions) {
    this.options = resolveRedisOptions(options);
    this.logger = options.logger ?? SILENT;
    this.leaseTtlMs = this.options.leaseTtlMs;
    this.heartbeatMs = this.options.heartbeatMs;
    this.keyPrefix = this.options.keyPrefix;
    this.location = `${this.options.endpoint.redacted} (keys ${this.keyPrefix}*)`;
    this.keys = new KeyLayout(this.keyPrefix);
    this.connection = new Connection(this.options, this.location, this.logger);
    this.own = new OwnLease({
      connection: this.connection,
      keys: this.keys,
      options: this.options,
      location: this.location,
      logger: this.logger,
      emit: (renewal) => this.events.emit('leaseRenewed', renewal),
      reclaim: (resources) => this.reclaim(resources),
    });
    this.connection.events.on('outage', (event) => this.events.emit('outage', event));
    this.connection.events.on('reconnected', (event) => this.events.emit('reconnected', event));
    this.connection.events.on('ready', () => this.importLegacy());
  }

  // ---- readable state -------------------------------------------------------------

  /** The lease this store holds for its session, or null (it has not needed one yet, or lost it to a reaper). */
  get leaseId(): string | null {
    return this.own.activeLeaseId;
  }

  /** Replicas a record or claim write waits for (`WAIT`) now: `replicasToAck`, or with `'auto'` those the master reported. */
  get replicasWaitedFor(): number {
    return this.connection.replicasWaitedFor;
  }

  /** Whether this store signs its entries and refuses unsigned ones (it has a fleet key). */
  get signed(): boolean {
    return this.options.signer !== null;
  }

  /** How many keys this store refused because their value does not verify with the fleet key (each counted once). */
  get unverifiedEntries(): number {
    return this.unverified.size;
  }

  /** Whether the server is reachable now. */
  get connected(): boolean {
    return this.connection.connected;
  }

  /** Epoch ms the current outage began, or null while connected. */
  get outageSince(): number | null {
    return this.connection.outageSince;
  }

  /** Every lease renewal of this store, oldest first (the last 100). */
  get leaseRenewals(): readonly LeaseRenewal[] {
    return this.own.renewals;
  }

  /** Whether a reaper took this session's record over (its writes are refused from then on). */
  get takenOver(): boolean {
    return this.own.takenOverBy !== undefined;
  }

  /**
   * Whether expired leases can be trusted: connected without a break for one
   * lease TTL (`settleMs`). Before, they read as `settling` and nothing is
   * reaped on a lease.
   */
  get settled(): boolean {
    return this.connection.settled;
  }

  /** Resolves once {@link RedisSessionStore.settled} (e.g. before `sessions cleanup`), or when `signal` aborts. */
  whenSettled(signal?: AbortSignal): Promise<void> {
    return this.connection.whenSettled(signal);
  }

  /** Subscribes to `outage`, `reconnected` or `leaseRenewed`. @returns this store */
  on<E extends keyof RedisSessionStoreEvents>(
    event: E,
    listener: (...args: RedisSessionStoreEvents[E]) => void,
  ): this {
    this.events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Removes a listener added with {@link RedisSessionStore.on}. @returns this store */
  off<E extends keyof RedisSessionStoreEvents>(
    event: E,
    listener: (...args: RedisSessionStoreEvents[E]) => void,
  ): this {
    this.events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  // ---- SessionStore ---------------------------------------------------------------

  /** Binds the store to the session whose lease it keeps (the manager calls this once). Never throws for I/O. */
  attach(owner: SessionOwner): void {
    if (this.owner !== null && this.owner.sessionId !== owner.sessionId) {
      this.logger.warn(
        { sessionId: owner.sessionId, attached: this.owner.sessionId },
        new RedisLeaseConflictError(
          owner.sessionId,
          `this store already keeps the lease of session ${this.owner.sessionId}`,
        ).message,
      );
      return;
    }
    this.owner = ownerOf(owner);
    this.own.attach(owner.sessionId);
    if (this.connection.connected) this.importLegacy();
  }

  /** `host` for the kinds in `hostScopedKinds` (default port, process), else `fleet`. */
  resourceScope(kind: string): 'host' | 'fleet' {
    return this.options.hostScopedKinds.has(kind) ? 'host' : 'fleet';
  }

  /** The record as stored, or null when missing or held by a reaper. */
  async readRecord(sessionId: string): Promise<StoredSession | null> {
    const stored = await readOne(this.readContext, sessionId);
    return stored && !stored.reaping ? stored : null;
  }

  /** `undefined`: a network store cannot read synchronously (callers answer from memory). */
  readRecordSync(_sessionId: string): StoredSession | null | undefined {
    return undefined;
  }

  /**
   * Writes this session's whole record by compare-and-set on the version it
   * last wrote; refreshes the lease with it.
   * @throws SessionTakenOverError when a reaper took the record over (nothing is written back);
   *   RedisStoreUnavailableError, RedisLeaseConflictError.
   */
  /**
   * Writes this session's record; with replicas, done only once they have it.
   * @throws RedisStoreNotReplicatedError when the replicas did not acknowledge it in time (it is then not safe from a failover).
   */
  async writeRecord(record: SessionRecord): Promise<void> {
    this.ensureOwner(record, 'writeRecord');
    await this.own.write(record);
    await this.connection.replicated();
  }

  /** Always false (warned): no network write completes synchronously. */
  writeRecordSync(_record: SessionRecord): boolean {
    return this.syncRefused('writeRecordSync');
  }

  /**
   * Removes this session's record (its lease stays while the store runs).
   * @returns whether one was there; false too when a reaper holds it (it is the reaper's now).
   */
  removeRecord(sessionId: string): Promise<boolean> {
    if (this.owner !== null && sessionId !== this.owner.sessionId)
      throw new TypeError(
        `removeRecord: this store writes only its own session's record (${this.owner.sessionId}), not ${sessionId}`,
      );
    return this.own.remove(sessionId);
  }

  /** Always false (warned): no network write completes synchronously. */
  removeRecordSync(_sessionId: string): boolean {
    return this.syncRefused('removeRecordSync');
  }

  /** Every record with its lease evidence (being-reaped ones with `reaping`). Reads only. */
  listSessions(): Promise<StoredSession[]> {
    return readAll(this.readContext);
  }

  /** Read-only, for display: ms each listed session's lease key has left (PTTL; absent: no lease). */
  leaseTtlsLeft(sessionIds: readonly string[]): Promise<Map<string, number>> {
    return readLeaseTtls({ connection: this.connection, keys: this.keys }, sessionIds);
  }

  /** Every claim of `kind` with its holder's lease evidence. Reads only. */
  async listClaims(kind: string): Promise<StoredClaim[]> {
    return (await readClaims(this.readContext, kind)).map(
      ({ raw: _raw, leasePresent: _p, ...claim }) => claim,
    );
  }

  /** Claims by `SET NX`; a dead holder's claim is taken over by compare-and-set (exactly one claimant wins). */
  /** Claims a resource; a won claim counts only once the replicas have it (see {@link writeRecord}). */
  async claim(request: ClaimRequest): Promise<ClaimOutcome> {
    const outcome = await claim(this.claimContext, request);
    if (outcome.ok) await this.connection.replicated();
    return outcome;
  }

  /** Removes the claim if `holderSessionId` still holds it. */
  async releaseClaim(kind: string, id: string, holderSessionId: string): Promise<boolean> {
    const scopes: string[] = [];
    if (this.resourceScope(kind) === 'fleet') scopes.push('fleet');
    else {
      if (this.owner) scopes.push(this.scopeOf(kind, this.owner));
      if (holderSessionId !== this.owner?.sessionId) {
        const stored = await readOne(this.readContext, holderSessionId).catch(() => null);
        if (stored) scopes.push(this.scopeOf(kind, { hostId: stored.record.hostId ?? null }));
      }
    }
    return releaseClaim(this.claimContext, kind, id, holderSessionId, scopes);
  }

  /** Always false (warned): no network write completes synchronously. The claim goes with the lease. */
  releaseClaimSync(_kind: string, _id: string, _holderSessionId: string): boolean {
    return this.syncRefused('releaseClaimSync');
  }

  /** Takes a dead session's record over by compare-and-set on its listed version. */
  takeOver(target: StoredSession, reaper: SessionOwner): Promise<ReapTakeover | null> {
    return takeOver(
      {
        connection: this.connection,
        keys: this.keys,
        leaseTtlMs: this.leaseTtlMs,
        epoch: () => this.own.epoch(),
        epochChanged: (current) => this.own.epochChanged(current),
        leaseId: this.own.leaseIdFor(reaper.sessionId),
        leaseSet: () => this.own.leaseSet(),
        signer: this.options.signer,
        replicated: () => this.connection.replicated(),
      },
      target,
      reaper,
    );
  }

  /**
   * Stops the heartbeat and closes the connection. The session's lease is
   * left to expire (call the manager's `unregisterSession()` first to remove
   * the record at once). Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.own.stop();
    await this.connection.close();
  }

  // ---- internals ------------------------------------------------------------------

  private get readContext(): ReadContext {
    return {
      connection: this.connection,
      keys: this.keys,
      warnCorrupt: (k, r) => this.warnCorrupt(k, r),
      signer: this.options.signer,
    };
  }

  private get claimContext() {
    return {
      ...this.readContext,
      leaseTtlMs: this.leaseTtlMs,
      epoch: () => this.own.epoch(),
      epochChanged: (current: string) => this.own.epochChanged(current),
      leaseId: this.own.leaseIdFor(this.owner?.sessionId ?? null),
      leaseSet: () => this.own.leaseSet(),
      scopeOf: (kind: string, owner: { readonly hostId: string | null }) => this.scopeOf(kind, owner),
    };
  }

  private scopeOf(kind: string, owner: { readonly hostId: string | null }): string {
    return this.resourceScope(kind) === 'host' ? (owner.hostId ?? 'nohost') : 'fleet';
  }

  /** After the server lost its data: claims of this session's claimed resources, again (a claim someone else won meanwhile is reported). */
  private async reclaim(resources: readonly { kind: string; id: string }[]): Promise<void> {
    const owner = this.owner;
    if (owner === null) return;
    for (const r of resources) {
      const outcome = await claim(this.claimContext, {
        kind: r.kind,
        id: r.id,
        owner,
        holderIsDead: () => false,
      });
      if (!outcome.ok)
        this.logger.warn(
          { kind: r.kind, id: r.id, holder: outcome.holder.sessionId },
          `session ${owner.sessionId}: after the server lost its data, ${r.kind} ${r.id} was claimed by ${outcome.holder.sessionId} first`,
        );
    }
  }

  /** Once per store, for a manager (never for a listing-only tool): import a v1 store, if any. Never throws. */
  private importLegacy(): void {
    const legacy = this.options.legacyKeyPrefix;
    if (this.imported || this.owner === null || legacy === null || this.closed) return;
    this.imported = true;
    importV1(
      {
        connection: this.connection,
        keys: this.keys,
        logger: this.logger,
        location: this.location,
        epoch: () => this.own.epoch(),
        warnCorrupt: (k, r) => this.warnCorrupt(k, r),
        signer: this.options.signer,
      },
      legacy,
    ).catch((error: unknown) => {
      this.imported = false; // try again at the next connect
      this.logger.warn({ err: error }, `could not import the v1 session store: ${(error as Error).message}`);
    });
  }

  private ensureOwner(record: SessionRecord, method: string): void {
    if (this.owner === null) this.attach(ownerOf(record));
    else if (record.sessionId !== this.owner.sessionId)
      throw new TypeError(
        `${method}: this store writes only its own session's record (${this.owner.sessionId}), not ${record.sessionId}`,
      );
  }

  private syncRefused(method: string): boolean {
    const error = new RedisStoreSyncError(method, this.location, this.leaseTtlMs);
    this.logger.warn({ err: error, code: error.code }, error.message);
    return false;
  }

  private warnCorrupt(key: string, reason: string): void {
    if (isSignatureRefusal(reason)) this.unverified.add(key);
    if (this.corruptWarned.has(key)) return;
    this.corruptWarned.add(key);
    const error = new RedisStoreCorruptError(key, reason);
    this.logger.warn({ key, reason, code: error.code }, error.message);
  }
}

/** Another name of {@link RedisSessionStore}, so `new RedisRegistryStore(options)` works. */
export const RedisRegistryStore = RedisSessionStore;
/** Another name of {@link RedisSessionStore}'s type. */
export type RedisRegistryStore = RedisSessionStore;
/** Another name of {@link RedisSessionStoreEvents}. */
export type RedisRegistryStoreEvents = RedisSessionStoreEvents;
