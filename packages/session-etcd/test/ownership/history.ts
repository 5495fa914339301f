// The history of an ownership run, as the workers, the test and the fake
// cloud write it: one JSON object per line per worker, the test's own log of
// the faults it caused, and the cloud's log of what reached each VM. The
// checker (checker.ts) reads nothing else, so a fabricated history exercises
// it exactly as a real run does.
//
// Resources are named `vm:<id>`, `port:<host>/<port>` (ports are per host)
// and `session:<sessionId>` (what a take-over or a finish acts on).

/** The operations a worker (or the final drain) logs. */
export type OpKind = 'register' | 'acquire' | 'release' | 'takeover' | 'cleanup' | 'finish';

/**
 * One step of one operation. Every operation logs `invoke` before it starts
 * and `done` once its caller has the outcome; a cleanup also logs `run` when
 * it got past the fencing check (fencedCleanup). An operation without `done`
 * was cut short by the worker's death: its outcome is unknown.
 */
export interface OpLine {
  readonly kind: 'op';
  readonly worker: string;
  readonly session: string;
  /** Per worker, pairs the steps of one operation. */
  readonly n: number;
  readonly op: OpKind;
  readonly phase: 'invoke' | 'run' | 'done';
  /** The resource; `port:<host>/?` on the invoke of an acquire (the port is chosen during it). */
  readonly resource: string;
  /** Epoch ms (all processes share one clock). */
  readonly at: number;
  /** Fencing token: the take-over's revision (takeover done, cleanup, finish) or the claim's (acquire done). */
  readonly token?: string | null | undefined;
  /** On `done`: whether the caller got a success reply (false: failed, or unknown). */
  readonly ack?: boolean | undefined;
  /** cleanup, takeover, finish: the session whose resources these are. */
  readonly owner?: string | undefined;
  /** finish: the resources put back in the record (failed cleanups); the others were removed. */
  readonly kept?: readonly string[] | undefined;
  readonly detail?: string | undefined;
}

/** A worker's lease as it saw it. */
export interface LeaseLine {
  readonly kind: 'lease';
  readonly worker: string;
  readonly session: string;
  readonly at: number;
  /**
   * `confirmed`: a keepalive reply moved `heldUntil`; `lost`: the store's
   * `leaseLost` event; `renewed`: its `leaseRenewed` event (`outcome`).
   */
  readonly event: 'confirmed' | 'lost' | 'renewed';
  readonly leaseId: string | null;
  /**
   * Until when the server had confirmed the lease (the keepalive's send time
   * plus the TTL it answered): the server cannot drop it earlier.
   */
  readonly heldUntil: number;
  readonly reason?: string | undefined;
  readonly outcome?: string | undefined;
}

/** A worker came up (first line of its file) or went away by itself. */
export interface LifeLine {
  readonly kind: 'start' | 'exit';
  readonly worker: string;
  readonly session: string;
  readonly at: number;
  readonly host?: string | undefined;
  readonly pid?: number | undefined;
  readonly reason?: string | undefined;
}

export type WorkerLine = OpLine | LeaseLine | LifeLine;

/**
 * What the test did. `kill`: SIGKILL sent (logged once `kill` returned);
 * `pause`/`cut`: SIGSTOP or the proxy cut began — `pastTtl` once the test saw
 * the worker's lease gone on the server; `resume`/`heal`: it ended. Cluster
 * faults name a `member`.
 */
export interface FaultEvent {
  readonly at: number;
  readonly fault:
    | 'kill'
    | 'pause'
    | 'resume'
    | 'cut'
    | 'heal'
    | 'member-kill'
    | 'member-restart'
    | 'member-pause'
    | 'member-resume';
  readonly worker?: string | undefined;
  readonly member?: string | undefined;
  /** On `resume`/`heal`: whether the lease ran out meanwhile (the test saw it gone on the server). */
  readonly pastTtl?: boolean | undefined;
  readonly detail?: string | undefined;
}

/**
 * What reached the fake cloud, in the order it applied it. A delete carries
 * the reaper's fencing token: one lower than a token the VM has already
 * seen is refused (`superseded`); a VM already deleted answers `gone`.
 */
export interface CloudEvent {
  readonly at: number;
  readonly vm: string;
  readonly op: 'create' | 'delete';
  readonly token: string | null;
  /** The session that asked. */
  readonly by: string;
  readonly result: 'created' | 'deleted' | 'gone' | 'superseded';
}

/** Everything the checker judges. */
export interface History {
  readonly lines: readonly WorkerLine[];
  readonly faults: readonly FaultEvent[];
  readonly cloud: readonly CloudEvent[];
  /** Resources listed in some session's record at the end (after the drain), with that session. */
  readonly recordedAtEnd: readonly { readonly session: string; readonly resource: string }[];
  /** Epoch ms the run ended (holds still open end here). */
  readonly endedAt: number;
}

/** `vm:<id>` */
export const vmResource = (id: string): string => `vm:${id}`;
/** `port:<host>/<port>` */
export const portResource = (host: string, port: string): string => `port:${host}/${port}`;
/** `session:<id>` */
export const sessionResource = (id: string): string => `session:${id}`;
