// The public contract of @core/session, fixed before the implementation so
// @core/ports and the app can build against it. The implementation may add
// members; it must not change these without a changeset.

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

/** A resource as recorded in the registry. */
export interface ResourceRecord extends ResourceInput {
  /** Epoch ms when it was registered. */
  readonly registeredAt: number;
}

/** Status of a session in the registry. */
export type SessionStatus = 'active' | 'stale';

/** One session's entry in the shared registry (and the content of its session file). */
export interface SessionRecord {
  readonly sessionId: string;
  readonly pid: number;
  readonly hostname: string;
  /** Start time of `pid` (see `readProcessStartTime`): a different value later means the pid was reused. */
  readonly processStartTime: string | null;
  /** Epoch ms the session was created. */
  readonly createdAt: number;
  /** Epoch ms of the last registration change. */
  readonly registeredAt: number;
  /**
   * Epoch ms of the owner's last `heartbeat()`. The age limit counts from the
   * later of `createdAt` and this, so a long-running owner (a boot-time
   * manager up for days) that heartbeats is never reaped as "too old".
   */
  readonly heartbeatAt?: number | undefined;
  readonly status: SessionStatus;
  /** The VM of the original API (`registerVm`), or null. */
  readonly vmId: string | null;
  readonly zone: string | null;
  readonly components: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Every resource the session owns (the VM of `registerVm` included, as kind `vm`). */
  readonly resources: readonly ResourceRecord[];
}

/** What `reapStaleSessions` removed: the stale sessions with everything they owned, for the caller to clean up. */
export interface ReapResult {
  /** How many stale sessions this call removed. */
  readonly removed: number;
  /** The removed sessions, with their resources (`reapable`). */
  readonly reapable: readonly SessionRecord[];
}

/** Minimal structured logger; pino and console-like loggers fit. */
export interface SessionLogger {
  warn(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

/**
 * Choose resources under the registry lock. `takenByOthers` holds the ids (of
 * the claimed kind) owned by other *live* sessions; stale sessions' resources
 * are not in it. Whatever the callback returns is registered for this session
 * before the lock is released, so two processes claiming at once never get the
 * same id.
 */
export type ClaimChooser = (
  takenByOthers: ReadonlySet<string>,
) => readonly ResourceInput[] | Promise<readonly ResourceInput[]>;
