import { SessionError } from '@core/session';

/** Stable error codes of @core/session-etcd; switch on `error.code`, not on messages. */
export type EtcdStoreErrorCode =
  | 'E_SESSION_STORE_UNAVAILABLE'
  | 'E_SESSION_STORE_SYNC'
  | 'E_SESSION_LEASE_CONFLICT'
  | 'E_SESSION_STORE_CORRUPT'
  | 'E_SESSION_STORE_ACCESS';

/**
 * Base class of every error this package throws on purpose (bad arguments and
 * bad options are plain `TypeError`/`RangeError`). It extends `SessionError`
 * of `@core/session`, so a caller that handles session errors handles these
 * too. A write refused because a reaper took the record over is
 * `SessionTakenOverError` (`E_SESSION_TAKEN_OVER`) of `@core/session`.
 */
export class EtcdStoreError extends SessionError<EtcdStoreErrorCode> {}

/** No member of the cluster answered (down, unreachable, no quorum, or too slow) within `unavailableTimeoutMs`. */
export class EtcdStoreUnavailableError extends EtcdStoreError {
  /**
   * @param location - the endpoints (no credentials)
   * @param waitedMs - how long the call waited
   * @param cause - the last error of the client, if any
   */
  constructor(location: string, waitedMs: number, cause?: unknown) {
    super(
      'E_SESSION_STORE_UNAVAILABLE',
      `the session store at ${location} did not answer within ${waitedMs} ms` +
        (cause instanceof Error ? ` (${cause.message})` : '') +
        '; the store keeps trying in the background. Check the cluster (etcdctl endpoint health), or raise `unavailableTimeoutMs`.',
      { cause },
    );
  }
}

/**
 * A sync method (`writeRecordSync`, `removeRecordSync`, `releaseClaimSync`)
 * was called: no network call completes synchronously. Not thrown — the
 * store warns with this error and returns `false`. Once the process is gone
 * its lease expires within `leaseTtlMs` and its resources become reapable.
 */
export class EtcdStoreSyncError extends EtcdStoreError {
  /**
   * @param method - the sync method called
   * @param location - the endpoints
   * @param leaseTtlMs - the lease time to live
   */
  constructor(method: string, location: string, leaseTtlMs: number) {
    super(
      'E_SESSION_STORE_SYNC',
      `${method}: the etcd session store at ${location} cannot be reached synchronously; ` +
        `this session's lease expires within ${leaseTtlMs} ms of its last keepalive and its resources become reapable then. ` +
        'Use the async methods (e.g. `await unregisterSession()`) on a normal shutdown.',
    );
  }
}

/** A record of this session exists that this store did not write (two stores, or two threads, for one session). */
export class EtcdLeaseConflictError extends EtcdStoreError {
  /**
   * @param sessionId - the session
   * @param detail - what was found
   */
  constructor(sessionId: string, detail: string) {
    super(
      'E_SESSION_LEASE_CONFLICT',
      `session ${sessionId}: ${detail}. One EtcdSessionStore keeps one session's lease: ` +
        'give each session manager its own store, and register from one thread per process.',
    );
  }
}

/** A value the store must change is not in the format it writes (planted, or written by an incompatible version). */
export class EtcdStoreCorruptError extends EtcdStoreError {
  /**
   * @param key - the etcd key
   * @param reason - what is wrong with it
   */
  constructor(key: string, reason: string) {
    super(
      'E_SESSION_STORE_CORRUPT',
      `the session store key ${JSON.stringify(key)} holds a value this store did not write (${reason}); ` +
        'it was left in place for inspection. Delete it (etcdctl del) once inspected.',
    );
  }
}
