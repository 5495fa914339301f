import { EventEmitter } from 'node:events';
import type { SessionLogger, SessionOwner, SessionRecord, SessionStore } from '@core/session';
import type {
  ClaimOutcome,
  ClaimRequest,
  LeaseEvidence,
  StoredClaim,
  StoredSession,
} from '@core/session/store';
import { ownerOf } from '@core/session/store';
import { type ClaimContext, claim, listClaims, releaseClaim } from './claims.js';
import { parseLeaseMarker } from './codec.js';
import { Connection } from './connection.js';
import { EtcdLeaseConflictError, EtcdStoreCorruptError, EtcdStoreSyncError } from './errors.js';
import { KeyLayout } from './keys.js';
import type { Entry } from './kv.js';
import { OwnLease } from './lease.js';
import { readLeaseTtls } from './lease-ttl.js';
import { type EtcdSessionStoreOptions, type ResolvedEtcdOptions, resolveEtcdOptions } from './options.js';
import { OwnSession } from './own-session.js';
import { type ReadContext, readAll, readOne } from './reading.js';
import type { LeaseLoss, LeaseRenewal, LeaseState } from './renewal.js';
import type { EtcdReapTakeover, EtcdStoredSession } from './stored.js';
import { takeOver } from './takeover.js';

/** Events of {@link EtcdSessionStore} and their payloads. */
export interface EtcdSessionStoreEvents {
  /** No member answered (emitted once per outage). */
  outage: [{ readonly at: number; readonly error: Error | null }];
  /** The cluster answers again after an outage. */
  reconnected: [{ readonly at: number; readonly downtimeMs: number }];
  /** This session's lease counts as lost: unconfirmed for a whole TTL, or expired on the server. */
  leaseLost: [LeaseLoss];
  /** What became of a lost lease: confirmed after all, replaced (`kept`), or `taken-over`. */
  leaseRenewed: [LeaseRenewal];
}

const SILENT: SessionLogger = { warn() {} };

/**
 * A `SessionStore` (the contract of `@core/session`) on an etcd cluster,
 * for a fleet of machines: one etcd lease per session kept alive by its
 * owner, the record under a key of its own changed by compare-and-set on its
 * modRevision, claims created by transaction (`createRevision == 0`) and
 * attached to the claimant's lease, and reaping by take-over, whose etcd
 * revision is the fencing token of every later step. Liveness is judged by
 * `@core/session` from the evidence this store hands over: on the owner's
 * own host its pid decides, elsewhere its lease.
 *
 * One store keeps the lease of one session: pass a new store to each session
 * manager (`createSessionManager({ store })`), and `close()` it after
 * `unregisterSession()`.
 */
export class EtcdSessionStore implements SessionStore {
  /** The endpoints and the key prefix. */
  readonly location: string;
  /** Lifetime of a lease without a keepalive, as asked (ms; see {@link EtcdSessionStore.grantedTtlMs}). */
  readonly leaseTtlMs: number;
  /** Keepalive interval (ms). */
  readonly heartbeatMs: number;
  /** Prefix of every key. */
  readonly keyPrefix: string;

  private readonly options: ResolvedEtcdOptions;
  private readonly logger: SessionLogger;
  private readonly connection: Connection;
  private readonly keys: KeyLayout;
  private readonly events = new EventEmitter();
  private readonly lease: OwnLease;
  private readonly own: OwnSession;
  private readonly corruptWarned = new Set<string>();
  private owner: SessionOwner | null = null;
  private closed = false;

  /** @throws TypeError / RangeError on bad options (nothing is connected then). */
  constructor(options: EtcdSessionStoreOptions) {
    this.options = resolveEtcdOptions(options);
    this.logger = options.logger ?? SILENT;
    this.leaseTtlMs = this.options.leaseTtlMs;
    this.heartbeatMs = this.options.heartbeatMs;
    this.keyPrefix = this.options.keyPrefix;
    this.location = `etcd ${this.options.endpoints.join(',')} (keys ${this.keyPrefix}*)`;
    this.keys = new KeyLayout(this.keyPrefix);
    this.connection = new Connection(this.options, this.location, this.logger);
    this.lease = new OwnLease({
      connection: this.connection,
      location: this.location,
      ttlSeconds: this.leaseTtlMs / 1_000,
      heartbeatMs: this.heartbeatMs,
      lost: (loss) => this.onLeaseLost(loss),
      confirmed: (leaseId) => this.onLeaseConfirmed(leaseId),
      failed: (error) => this.warnBackground(error),
    });
    this.own = new OwnSession({
      connection: this.connection,
      keys: this.keys,
      lease: this.lease,
      logger: this.logger,
      emit: (renewal) => this.emitSafely('leaseRenewed', renewal),
      reclaim: (resources) => this.reclaim(resources),
    });
    this.connection.events.on('outage', (event) => this.emitSafely('outage', event));
    this.connection.events.on('reconnected', (event) => this.emitSafely('reconnected', event));
  }

  // ---- readable state -------------------------------------------------------------

  /** The lease this store holds for its session (decimal id), or null before it needed one. */
  get leaseId(): string | null {
    return this.lease.leaseId;
  }

  /**
   * The lease as the server last confirmed it: `none` (not needed yet),
   * `held` (a keepalive reply within the server's TTL), `unconfirmed` (no
   * reply for a whole TTL: presumed lost), `expired` (the server said so),
   * `released` (closed, or taken over).
   */
  get leaseState(): LeaseState {
    return this.lease.state;
  }

  /** Epoch ms until which the server has confirmed the lease (0 before the first grant). */
  get leaseHeldUntil(): number {
    return this.lease.heldUntil;
  }

  /** The TTL the server granted (it may raise the TTL asked for to its minimum). */
  get grantedTtlMs(): number {
    return this.lease.grantedTtlMs;
  }

  /** Whether the last request reached the cluster. */
  get connected(): boolean {
    return this.connection.connected;
  }

  /** Epoch ms the current outage began, or null while reachable. */
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

  /** Whether absent leases can be trusted: the cluster answered without a break for `settleMs`. */
  get settled(): boolean {
    return this.connection.settled;
  }

  /** Resolves once {@link EtcdSessionStore.settled} (e.g. before `sessions cleanup`), or when `signal` aborts. */
  whenSettled(signal?: AbortSignal): Promise<void> {
    return this.connection.whenSettled(signal);
  }

  /** Subscribes to `outage`, `reconnected`, `leaseLost` or `leaseRenewed`. @returns this store */
  on<E extends keyof EtcdSessionStoreEvents>(
    event: E,
    listener: (...args: EtcdSessionStoreEvents[E]) => void,
  ): this {
    this.events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Removes a listener added with {@link EtcdSessionStore.on}. @returns this store */
  off<E extends keyof EtcdSessionStoreEvents>(
    event: E,
    listener: (...args: EtcdSessionStoreEvents[E]) => void,
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
        new EtcdLeaseConflictError(
          owner.sessionId,
          `this store already keeps the lease of session ${this.owner.sessionId}`,
        ).message,
      );
      return;
    }
    this.owner = ownerOf(owner);
    this.own.attach(owner.sessionId);
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
   * Writes this session's whole record by compare-and-set on the revision it
   * last wrote, while its lease marker is on its live lease.
   * @throws SessionTakenOverError when a reaper took the record over (nothing is written back);
   *   EtcdStoreUnavailableError, EtcdLeaseConflictError, EtcdStoreCorruptError.
   */
  async writeRecord(record: SessionRecord): Promise<void> {
    this.ensureOwner(record, 'writeRecord');
    await this.own.write(record);
  }

  /** Always false (warned): no network write completes synchronously. */
  writeRecordSync(_record: SessionRecord): boolean {
    return this.syncRefused('writeRecordSync');
  }

  /** Removes this session's record. @returns whether one was there; false too when a reaper holds it. */
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

  /** Every record with its lease evidence (being-reaped ones with `reaping`, carrying the fencing token). Reads only. */
  listSessions(): Promise<EtcdStoredSession[]> {
    return readAll(this.readContext);
  }

  /** Read-only, for display: ms each listed session's lease has left on the server (absent: no lease). */
  leaseTtlsLeft(sessionIds: readonly string[]): Promise<Map<string, number>> {
    return readLeaseTtls({ connection: this.connection, keys: this.keys }, sessionIds);
  }

  /** Every claim of `kind` with its holder's lease evidence. Reads only. */
  listClaims(kind: string): Promise<StoredClaim[]> {
    return listClaims(this.claimContext, kind);
  }

  /** Claims by transaction (`createRevision == 0`), attached to this session's lease; a dead holder's claim is replaced by exactly one claimant. */
  async claim(request: ClaimRequest): Promise<ClaimOutcome> {
    if (request.owner.sessionId !== this.owner?.sessionId) return claim(this.claimContext, request);
    // Remembered before the transaction: a lease replaced while it is in flight makes it again.
    const forget = this.own.claiming(request.kind, request.id);
    try {
      const outcome = await claim(this.claimContext, request);
      if (!outcome.ok) forget();
      return outcome;
    } catch (error) {
      forget();
      throw error;
    }
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
    if (holderSessionId === this.owner?.sessionId) this.own.claiming(kind, id)();
    return releaseClaim(this.claimContext, kind, id, holderSessionId, scopes);
  }

  /** Always false (warned): no network write completes synchronously. The claim goes with the lease. */
  releaseClaimSync(_kind: string, _id: string, _holderSessionId: string): boolean {
    return this.syncRefused('releaseClaimSync');
  }

  /**
   * Takes a dead session's record over by transaction on its listed version.
   * The hold carries the fencing token (`fencingToken`, also given to a
   * cleanup wrapped with `fencedCleanup`).
   */
  takeOver(target: StoredSession, reaper: SessionOwner): Promise<EtcdReapTakeover | null> {
    return takeOver(
      { connection: this.connection, keys: this.keys, logger: this.logger, lease: () => this.ownLease() },
      target,
      reaper,
    );
  }

  /**
   * Stops the keepalive and closes the client. A session that removed its
   * record revokes its lease (listings show nothing of it at once); one that
   * still has a record leaves the lease to expire, so its resources stay
   * reapable. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.own.stop();
    await this.lease.release(!this.own.hasRecord && !this.takenOver);
    this.connection.close();
  }

  // ---- internals ------------------------------------------------------------------

  private get readContext(): ReadContext {
    return {
      connection: this.connection,
      keys: this.keys,
      warnCorrupt: (k, r) => this.warnCorrupt(k, r),
      evidence: (marker) => this.evidence(marker),
    };
  }

  private get claimContext(): ClaimContext {
    return {
      ...this.readContext,
      lease: () => this.ownLease(),
      scopeOf: (kind, owner) => this.scopeOf(kind, owner),
    };
  }

  /** The lease claims and marks are attached to: the session's (with its marker), or a bare one for a store without a session. */
  private ownLease(): Promise<string> {
    return this.owner === null ? this.lease.current() : this.own.leaseWithMarker();
  }

  private evidence(marker: Entry | undefined): LeaseEvidence {
    if (marker !== undefined) {
      const valid = parseLeaseMarker(marker.value, marker.lease);
      if (valid.ok) return 'held';
      this.warnCorrupt(marker.key, valid.reason);
    }
    return this.connection.settled ? 'expired' : 'settling';
  }

  private scopeOf(kind: string, owner: { readonly hostId: string | null }): string {
    return this.resourceScope(kind) === 'host' ? (owner.hostId ?? 'nohost') : 'fleet';
  }

  /** After the lease expired and was replaced: the claims of this session's claimed resources, again. */
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
          `session ${owner.sessionId}: while its lease was lost, ${r.kind} ${r.id} was claimed by ${outcome.holder.sessionId}`,
        );
    }
  }

  private onLeaseLost(loss: LeaseLoss): void {
    this.logger.warn(
      { sessionId: this.owner?.sessionId, ...loss },
      loss.reason === 'expired'
        ? `session store ${this.location}: the server says lease ${loss.leaseId} expired; its keys are gone`
        : `session store ${this.location}: lease ${loss.leaseId} was not confirmed within its TTL (${this.lease.grantedTtlMs} ms); presumed lost`,
    );
    this.emitSafely('leaseLost', loss);
    if (loss.reason === 'expired' && !this.closed) this.own.onExpired(loss.leaseId);
  }

  private onLeaseConfirmed(leaseId: string): void {
    const renewal: LeaseRenewal = { at: Date.now(), previousLeaseId: leaseId, leaseId, outcome: 'confirmed' };
    this.own.renewals.push(renewal);
    if (this.own.renewals.length > 100) this.own.renewals.shift();
    this.logger.info?.(
      renewal,
      `session store ${this.location}: lease ${leaseId} confirmed again by the server`,
    );
    this.emitSafely('leaseRenewed', renewal);
  }

  private emitSafely<E extends keyof EtcdSessionStoreEvents>(
    event: E,
    ...args: EtcdSessionStoreEvents[E]
  ): void {
    try {
      this.events.emit(event, ...args);
    } catch (error) {
      this.logger.warn(
        { err: error, event },
        `session store ${this.location}: a \`${event}\` listener threw: ${(error as Error).message}`,
      );
    }
  }

  private ensureOwner(record: SessionRecord, method: string): void {
    if (this.owner === null) this.attach(ownerOf(record));
    else if (record.sessionId !== this.owner.sessionId)
      throw new TypeError(
        `${method}: this store writes only its own session's record (${this.owner.sessionId}), not ${record.sessionId}`,
      );
  }

  private syncRefused(method: string): boolean {
    const error = new EtcdStoreSyncError(method, this.location, this.leaseTtlMs);
    this.logger.warn({ err: error, code: error.code }, error.message);
    return false;
  }

  private warnBackground(error: unknown): void {
    this.logger.warn({ err: error }, `session store background step failed: ${(error as Error).message}`);
  }

  private warnCorrupt(key: string, reason: string): void {
    if (this.corruptWarned.has(key)) return;
    this.corruptWarned.add(key);
    const error = new EtcdStoreCorruptError(key, reason);
    this.logger.warn({ key, reason, code: error.code }, error.message);
  }
}
