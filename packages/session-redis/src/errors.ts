import { SessionError } from '@core/session';

/** Stable error codes of @core/session-redis; switch on `error.code`, not on messages. */
export type RedisStoreErrorCode =
  | 'E_SESSION_STORE_UNAVAILABLE'
  | 'E_SESSION_STORE_SYNC'
  | 'E_SESSION_LEASE_CONFLICT'
  | 'E_SESSION_STORE_CORRUPT'
  | 'E_SESSION_STORE_NOT_REPLICATED';

/**
 * Base class of every error this package throws on purpose (bad arguments are
 * plain `TypeError`/`RangeError`). It extends `SessionError` of
 * `@core/session`, so a caller that handles session errors handles these too.
 * Take-overs are `SessionTakenOverError` (`E_SESSION_TAKEN_OVER`) of `@core/session`.
 */
export class RedisStoreError extends SessionError<RedisStoreErrorCode> {}

/** Redis did not answer (down, unreachable, or too slow) within the store's `unavailableTimeoutMs`. */
export class RedisStoreUnavailableError extends RedisStoreError {
  /**
   * @param location - the server (password redacted)
   * @param waitedMs - how long the call waited
   * @param cause - the last connection or command error, if any
   */
  constructor(location: string, waitedMs: number, cause?: unknown) {
    super(
      'E_SESSION_STORE_UNAVAILABLE',
      `the session store at ${location} did not answer within ${waitedMs} ms` +
        (cause instanceof Error ? ` (${cause.message})` : '') +
        '; the store keeps reconnecting in the background. Check the server, or raise `unavailableTimeoutMs`.',
      { cause },
    );
  }
}

/**
 * A sync method (`writeRecordSync`, `removeRecordSync`, `releaseClaimSync`)
 * was called: no network call completes synchronously, least of all in
 * `process.on('exit')`. Not thrown — the store warns with this error and
 * returns `false`. Once the process is gone its lease expires within
 * `leaseTtlMs` and its resources become reapable (on this host at once: the
 * pid is gone).
 */
export class RedisStoreSyncError extends RedisStoreError {
  /**
   * @param method - the sync method called
   * @param location - the server
   * @param leaseTtlMs - the lease time to live
   */
  constructor(method: string, location: string, leaseTtlMs: number) {
    super(
      'E_SESSION_STORE_SYNC',
      `${method}: the Redis session store at ${location} cannot be reached synchronously; ` +
        `this session's lease expires within ${leaseTtlMs} ms of its last refresh and its resources become reapable then. ` +
        'Use the async methods (e.g. `await unregisterSession()`) on a normal shutdown.',
    );
  }
}

/** Another holder has a live lease under this session's id (two stores, or two worker threads, for one session). */
export class RedisLeaseConflictError extends RedisStoreError {
  /**
   * @param sessionId - the session
   * @param detail - what was found
   */
  constructor(sessionId: string, detail: string) {
    super(
      'E_SESSION_LEASE_CONFLICT',
      `session ${sessionId}: ${detail}. One RedisSessionStore keeps one session's lease: ` +
        'give each session manager its own store, and register from one thread per process.',
    );
  }
}

/** A value the store must change is not in the format it wrote (planted, or written by an incompatible version). */
export class RedisStoreCorruptError extends RedisStoreError {
  /**
   * @param key - the Redis key
   * @param reason - what is wrong with it
   */
  constructor(key: string, reason: string) {
    super(
      'E_SESSION_STORE_CORRUPT',
      `the session store key ${JSON.stringify(key)} holds a value this store did not write (${reason}); ` +
        'it was left in place for inspection. Delete it once inspected.',
    );
  }
}

/**
 * A write that must not be lost (a record, a claim) reached the master but
 * not the replicas it waits for (`WAIT`) within `replicaAckTimeoutMs`: a
 * failover now could forget it, so it does not count as done. The caller
 * treats it like a failed write (the VM is not known to be recorded); the
 * next write of the same record tries again.
 */
export class RedisStoreNotReplicatedError extends RedisStoreError {
  /**
   * @param location - the store
   * @param wanted - replicas waited for
   * @param acknowledged - replicas that acknowledged in time
   * @param timeoutMs - how long it waited
   */
  constructor(location: string, wanted: number, acknowledged: number, timeoutMs: number) {
    super(
      'E_SESSION_STORE_NOT_REPLICATED',
      `the session store at ${location}: a write reached the master but only ${acknowledged} of ${wanted} replica(s) acknowledged it within ${timeoutMs} ms; ` +
        'a failover could still lose it, so it does not count as done. Check the replicas (INFO replication), or lower `replicasToAck`.',
    );
  }
}
