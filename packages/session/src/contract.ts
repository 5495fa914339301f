// The public contract of @core/session: the records a session keeps, and
// what a store must do for records, claims, take-over and listing. Fixed
// before the implementations (file store here, Redis in @core/session-redis)
// so both build against it. Implementations may add members; changing these
// needs a changeset.
//
// Design in one paragraph: one record per session, written only by its owner
// (no shared registry, no global lock). Unique resources (ports, VM ids) are
// claimed by an exclusive create naming the owner; a claim of a dead owner is
// taken over atomically by exactly one claimant. A reaper takes a dead
// session's record over atomically, marks resources "being cleaned by X",
// removes a resource only after its cleanup succeeded and finishes the record
// when nothing is left; a reaper that dies leaves the record reapable again.
// Liveness is judged in one place (`judgeLiveness` in staleness.ts) from the
// evidence a store hands over; stores do mechanics, never judgement.

// ---- records ----------------------------------------------------------------------

/** A thing this session owns: a VM, a child process, a reserved port, anything with an id. */
export interface ResourceInput {
  /** What it is: `vm`, `process`, `port`, or any other lower-case word. */
  readonly kind: string;
  /** Unique within its kind on this machine/fleet (VM name, `host:port`, a service name…). */
  readonly id: string;
  /** Cloud zone of a VM. */
  readonly zone?: string | undefined;
  /** Components running on/with it. */
  readonly components?: readonly string[] | undefined;
  /** OS pid, for a child process. */
  readonly pid?: number | undefined;
  /** Start time of that pid as read by `readProcessStartTime`, recorded at spawn so a reused pid is never killed. */
  readonly processStartTime?: string | undefined;
  /** Anything else the owner wants to keep with it (JSON-serialisable). */
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
}

/** A resource as recorded in a session's record. */
export interface ResourceRecord extends ResourceInput {
  /** Epoch ms when it was registered. */
  readonly registeredAt: number;
  /**
   * Set by a reaper while it runs this resource's cleanup: the reaper's
   * sessionId. A resource so marked is still recorded; when that reaper dies,
   * the next reaper runs the cleanup again (cleanups must be idempotent:
   * "not found" counts as done).
   */
  readonly cleaningBy?: string | undefined;
  /** Epoch ms the cleanup in `cleaningBy` started. */
  readonly cleaningSince?: number | undefined;
  /** Registered through `claimResources`: a claim in the store names this session; released with the resource. */
  readonly claimed?: boolean | undefined;
}

/** Status of a session record. */
export type SessionStatus = 'active' | 'stale';

/** One session's record: the content of `sessions/<sessionId>.json` (or its Redis key). */
export interface SessionRecord {
  readonly sessionId: string;
  readonly pid: number;
  readonly hostname: string;
  /**
   * Host identity of the owner (see {@link HostIdentity.id}): hostname +
   * machine id + boot id + pid namespace. Absent in v1 records; those are
   * judged by `hostname` alone.
   */
  readonly hostId?: string | undefined;
  /**
   * {@link HostIdentity.stableId} of the owner's host (absent in older
   * records): a record with this host's stable id but another `hostId` was
   * written in a previous boot of this machine.
   */
  readonly stableHostId?: string | undefined;
  /** Start time of `pid` (see `readProcessStartTime`): a different value later means the pid was reused. */
  readonly processStartTime: string | null;
  /** Epoch ms the session was created. */
  readonly createdAt: number;
  /** Epoch ms of the last registration change. */
  readonly registeredAt: number;
  /**
   * Epoch ms of the owner's last `heartbeat()`. The age limit counts from the
   * later of `createdAt` and this; it only decides for sessions whose pid
   * cannot be verified on this host.
   */
  readonly heartbeatAt?: number | undefined;
  readonly status: SessionStatus;
  /** The session's VM as set by `registerVm` (also a resource of kind `vm`), or null. */
  readonly vmId: string | null;
  readonly zone: string | null;
  readonly components: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Every resource the session owns (the VM of `registerVm` included, as kind `vm`). */
  readonly resources: readonly ResourceRecord[];
}

/** What `reapStaleSessions` handed over: dead sessions with everything they owned, for the caller to clean up. */
export interface ReapResult {
  /** How many dead sessions this call took over and removed. */
  readonly removed: number;
  /**
   * The removed sessions, with their resources. These resources are
   * adopted by the calling session in the same step (so nothing is forgotten
   * if the caller dies before cleaning up); the caller unregisters each one it
   * cleaned. Prefer `reapDeadSessions`, which does all of this.
   */
  readonly reapable: readonly SessionRecord[];
}

/** Minimal structured logger; pino and console-like loggers fit. */
export interface SessionLogger {
  warn(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

/**
 * Chooses resources to claim. `takenByOthers` holds the ids (of the claimed
 * kind) held by other *live* sessions. What the chooser returns is then
 * claimed one by one by exclusive create; if another session won one of them
 * meanwhile, the claims made are released and the chooser runs again with the
 * new `takenByOthers`. So it may run more than once and must have no side
 * effects beyond probing (e.g. trying to bind a port and closing it again).
 */
export type ClaimChooser = (
  takenByOthers: ReadonlySet<string>,
) => readonly ResourceInput[] | Promise<readonly ResourceInput[]>;

// ---- identity and liveness evidence ------------------------------------------------

/**
 * Which machine *and* pid namespace a process lives in: two containers that
 * share a hostname and a directory differ in `pidNamespace`, a rebooted
 * machine differs in `bootId`. Only within one identical host identity can a
 * pid be checked.
 */
export interface HostIdentity {
  readonly hostname: string;
  /** `/etc/machine-id` (or `/var/lib/dbus/machine-id`), null when absent. */
  readonly machineId: string | null;
  /** `/proc/sys/kernel/random/boot_id`, null off Linux. */
  readonly bootId: string | null;
  /** Inode of `/proc/self/ns/pid` (as a decimal string), null off Linux. */
  readonly pidNamespace: string | null;
  /** A stable digest of the four fields above: what records store as `hostId`. */
  readonly id: string;
  /**
   * Digest of the identity without its boot id (hostname, machine id, pid
   * namespace): equal across reboots of one machine, what records store as
   * `stableHostId`. Null when the machine id or the boot id is unknown (then
   * a previous boot cannot be recognised).
   */
  readonly stableId?: string | null | undefined;
  /** Epoch ms this boot began (`btime` of `/proc/stat`), null off Linux. */
  readonly bootedAt?: number | null | undefined;
}

/** Who owns a record or a claim, or who reaps: enough to judge liveness from anywhere. */
export interface SessionOwner {
  readonly sessionId: string;
  readonly pid: number;
  readonly hostname: string;
  /** {@link HostIdentity.id} of the owner's host; null for v1 data (judged by hostname). */
  readonly hostId: string | null;
  /** {@link HostIdentity.stableId} of the owner's host, when known: recognises an owner from a previous boot. */
  readonly stableHostId?: string | undefined;
  readonly processStartTime: string | null;
  /** Epoch ms the owner's session was created. */
  readonly createdAt: number;
  /** Epoch ms of the owner's last sign of life, when the store knows one (heartbeat, record write). */
  readonly heartbeatAt?: number | undefined;
}

/**
 * What a store knows about an owner's lease, for owners whose pid cannot be
 * verified here. `none`: the store has no leases (file store: the age limit
 * decides). `held`/`expired`: the lease state now. `settling`: the store (re)connected less
 * than one lease TTL ago and cannot tell yet (never reap on it).
 */
export type LeaseEvidence = 'none' | 'held' | 'expired' | 'settling';

/** The verdict of `judgeLiveness`. */
export type Liveness = 'live' | 'dead' | 'unknown';

// ---- the store contract ------------------------------------------------------------

/** A session record as a store holds it, with the evidence needed to judge it. */
export interface StoredSession {
  readonly record: SessionRecord;
  /** Lease state of the owner (file store: `none`). */
  readonly lease: LeaseEvidence;
  /** Set while a reaper holds the record (taken over): who, since when, and that reaper's lease. */
  readonly reaping?: ReapingMark | undefined;
  /**
   * Opaque token of this exact stored state (file name + inode, Redis
   * epoch:version). `takeOver` succeeds only if the stored state still is this one.
   */
  readonly version: string;
}

/** A reaper's hold on a dead session's record. */
export interface ReapingMark {
  /** The reaper. */
  readonly by: SessionOwner;
  /** Epoch ms of the take-over. */
  readonly since: number;
  /** Lease state of the reaper (file store: `none`). */
  readonly lease: LeaseEvidence;
}

/** A claim of a unique resource as a store holds it. */
export interface StoredClaim {
  readonly kind: string;
  readonly id: string;
  readonly holder: SessionOwner;
  /** Lease state of the holder (file store: `none`). */
  readonly lease: LeaseEvidence;
}

/** What `SessionStore.claim` is asked to do. */
export interface ClaimRequest {
  readonly kind: string;
  readonly id: string;
  /** Who claims (the calling session). */
  readonly owner: SessionOwner;
  /**
   * Whether the current holder may be replaced (it is dead). Pure and cheap:
   * the manager passes `judgeLiveness(...) === 'dead'`; a store may call it
   * more than once.
   */
  readonly holderIsDead: (holder: SessionOwner, lease: LeaseEvidence) => boolean;
}

/** Result of `SessionStore.claim`. */
export type ClaimOutcome =
  /** The claim is ours now (newly created, already ours, or taken over from a dead holder). */
  | { readonly ok: true; readonly takenOverFrom?: SessionOwner | undefined }
  /** A live (or not provably dead) holder has it. */
  | { readonly ok: false; readonly holder: SessionOwner };

/** A reaper's exclusive hold on a dead session's record, from `SessionStore.takeOver`. */
export interface ReapTakeover {
  /** The record as taken over (resources may carry `cleaningBy` marks of an earlier reaper that died). */
  readonly record: SessionRecord;
  /**
   * Writes the record's new state (marks set, cleaned resources removed),
   * whole or not at all. @throws SessionError (`E_SESSION_WRITE_FAILED`,
   * or `E_SESSION_TAKEN_OVER` when another reaper took it from us because we were judged dead).
   */
  save(record: SessionRecord): Promise<void>;
  /**
   * Ends the hold: `null` removes the record (nothing left to clean); a record
   * puts it back as the dead session's record without a reaping mark, so it
   * stays reapable (failed or refused resources). @throws as `save`.
   */
  finish(remaining: SessionRecord | null): Promise<void>;
}

/**
 * Where session records and claims live. The file store is the embedded
 * default; `@core/session-redis` serves a fleet. No method takes a lock over
 * more than one session, and no method takes callbacks with side effects.
 *
 * Errors: async methods reject with a `SessionError` (subclasses allowed) with
 * a stable code; sync methods never throw for I/O — they warn through the
 * store's logger and return `false` (a network store returns `false` always).
 */
export interface SessionStore {
  /** Human-readable location (directory, URL) for messages. */
  readonly location: string;

  /**
   * Tells the store which session the calling manager is, once, from its
   * constructor. Lease stores start this session's lease here. Must not
   * throw for I/O (a manager is always created).
   */
  attach(owner: SessionOwner): void;

  /**
   * Whether ids of a resource kind are unique per `host` (ports, pids) or
   * across the whole `fleet` the store serves (VMs). Claims of a host-scoped
   * kind are keyed by host identity too.
   */
  resourceScope(kind: string): 'host' | 'fleet';

  // -- records: each written only by its owner

  /** This session's record as stored, or null (never written, removed, or taken over by a reaper). */
  readRecord(sessionId: string): Promise<StoredSession | null>;
  /** Sync {@link SessionStore.readRecord}; `undefined` when the store cannot read synchronously. */
  readRecordSync(sessionId: string): StoredSession | null | undefined;
  /**
   * Writes the owner's whole record (create or replace), atomically: on any
   * error the previous record is kept and the call rejects with a
   * `SessionError` (`E_SESSION_WRITE_FAILED` naming the file and errno, or a
   * store's own code). Rejects with `E_SESSION_TAKEN_OVER` instead of writing
   * when a reaper holds this session's record: what was reaped is never
   * written back.
   */
  writeRecord(record: SessionRecord): Promise<void>;
  /** Sync {@link SessionStore.writeRecord}: true when written; false (warned) when not. */
  writeRecordSync(record: SessionRecord): boolean;
  /** Removes the owner's record. @returns whether one was there. */
  removeRecord(sessionId: string): Promise<boolean>;
  /** Sync {@link SessionStore.removeRecord}: true when no record remains; false (warned) when it could not be removed. */
  removeRecordSync(sessionId: string): boolean;

  // -- listing: non-destructive, creates nothing

  /**
   * Every session record (being-reaped ones included, with `reaping`), with
   * the evidence to judge each. Reads only: creates no files, directories or
   * keys, moves nothing aside (a corrupt entry is skipped and warned about).
   */
  listSessions(): Promise<StoredSession[]>;
  /** Every claim of `kind` (for `takenByOthers`). Reads only, as `listSessions`. */
  listClaims(kind: string): Promise<StoredClaim[]>;

  // -- claims of unique resources: exclusive create, no global lock

  /**
   * Claims `kind`/`id` for `request.owner` by exclusive create. A claim
   * already held by the owner succeeds; one held by a holder that
   * `request.holderIsDead` says is dead is taken over atomically — of any
   * number of concurrent claimants exactly one gets `ok: true`.
   */
  claim(request: ClaimRequest): Promise<ClaimOutcome>;
  /** Removes the claim if `holderSessionId` still holds it. @returns whether it was removed. */
  releaseClaim(kind: string, id: string, holderSessionId: string): Promise<boolean>;
  /** Sync {@link SessionStore.releaseClaim}: true when the claim is no longer held by `holderSessionId`; false (warned) on failure. */
  releaseClaimSync(kind: string, id: string, holderSessionId: string): boolean;

  // -- reaping by take-over

  /**
   * Takes a dead session's record over for reaping, atomically: succeeds only
   * when the stored state still is `target.version` (so of concurrent reapers
   * exactly one wins), marking it as held by `reaper`. The caller has judged
   * the owner (and, when `target.reaping` is set, the previous reaper) dead.
   *
   * @returns the hold, or null when another reaper won or the record changed.
   */
  takeOver(target: StoredSession, reaper: SessionOwner): Promise<ReapTakeover | null>;

  /** Releases connections and timers (optional; the file store has none). */
  close?(): Promise<void>;
}

// ---- what the package offers on top of a store -------------------------------------

/** One session as `listSessions()` sees it. */
export interface SessionListing {
  readonly record: SessionRecord;
  /** `live`: verified (or leased); `dead`: provably gone (or expired); `unknown`: cannot tell, left alone. */
  readonly liveness: Liveness;
  /** Why, in words (`pid 123 alive with the recorded start time`, `lease expired`, …). */
  readonly reason: string;
  /** Whether the owner runs on this host (same host identity), i.e. its pid was checked. */
  readonly thisHost: boolean;
  /** Set while a reaper holds the record. */
  readonly reaping?: { readonly by: string; readonly since?: number | undefined } | undefined;
}

/** What a cleanup callback reports for one resource. */
export interface CleanupResult {
  /** true: the resource is gone (deleted, already gone, nothing to do); false: it may still exist. */
  readonly ok: boolean;
  /** What happened, for logs and reports. */
  readonly detail?: string | undefined;
}

/** Cleans up one resource of a dead session (`owner`). Must be idempotent: it may run again after a reaper died. */
export type ResourceCleanup = (resource: ResourceRecord, owner: SessionRecord) => Promise<CleanupResult>;

/** Options of `reapDeadSessions`. */
export interface ReapOptions {
  /** Cleans up one resource. */
  readonly cleanup: ResourceCleanup;
  /** How many cleanups run at once (default 8). */
  readonly concurrency?: number | undefined;
  /** Stops starting new cleanups; running ones finish, unstarted resources stay recorded (reapable). */
  readonly signal?: AbortSignal | undefined;
  /**
   * Failed resources: `true` (default) — adopted by the calling session in
   * one write (retried by its own shutdown, reapable if it dies); `false` —
   * left in the dead session's record for a later reap.
   */
  readonly adopt?: boolean | undefined;
}

/** One resource of a dead session and what became of it. */
export interface ReapedResource {
  /** The dead session that owned it. */
  readonly sessionId: string;
  readonly resource: ResourceRecord;
  /** The cleanup's detail (or why it was not run). */
  readonly detail?: string | undefined;
}

/** What `reapDeadSessions` did. */
export interface ReapReport {
  /** Dead sessions this call took over (and finished or put back). */
  readonly sessions: readonly string[];
  /** Dead sessions removed entirely (everything they owned is gone). */
  readonly removed: readonly string[];
  /** Resources whose cleanup succeeded (removed from their record). */
  readonly cleaned: readonly ReapedResource[];
  /** Resources whose cleanup failed (still recorded: adopted, or left). */
  readonly failed: readonly ReapedResource[];
  /** Failed resources now owned by the calling session (`metadata.adoptedFrom`). */
  readonly adopted: readonly ReapedResource[];
  /** Resources left in the dead session's record for a later reap (not started because of `signal`, or `adopt: false`). */
  readonly left: readonly ReapedResource[];
  /** Resources never handed to a cleanup: an id or zone starting with `-` or containing control characters. Kept recorded. */
  readonly refused: readonly ReapedResource[];
  /** Sessions not reaped, with the reason (live, unknown, another reaper won the take-over). */
  readonly skipped: readonly { readonly sessionId: string; readonly reason: string }[];
}
