/** Stable error codes of @core/session-redis; switch on `error.code`, not on messages. */
export type RedisStoreErrorCode =
  | 'E_SESSION_STORE_UNAVAILABLE'
  | 'E_SESSION_STORE_SYNC'
  | 'E_SESSION_LEASE_CONFLICT'
  | 'E_SESSION_STORE_CONTENDED';

/** Base class of every error this package throws on purpose (bad arguments are plain `TypeError`/`RangeError`). */
export class RedisStoreError extends Error {
  /** Stable machine-readable code. */
  readonly code: RedisStoreErrorCode;

  /**
   * @param code - stable code
   * @param message - what was wrong, with the value, and what to do
   * @param options - `cause` when wrapping another error
   */
  constructor(code: RedisStoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

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
      `the session registry at ${location} did not answer within ${waitedMs} ms` +
        (cause instanceof Error ? ` (${cause.message})` : '') +
        '; the store keeps reconnecting in the background. Check the server, or raise `unavailableTimeoutMs`.',
      { cause },
    );
  }
}

/**
 * A sync method (`updateSync`, `loadSync`) was called: no network call can
 * complete synchronously, least of all in `process.on('exit')`. The session's
 * lease is not refreshed any more once the process is gone, so it expires
 * within `leaseTtlMs` and its resources become reapable then.
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
      `${method}: the Redis session registry at ${location} cannot be reached synchronously; ` +
        `this session's lease expires within ${leaseTtlMs} ms of its last refresh and its resources become reapable then. ` +
        'Use the async methods (e.g. `await unregisterSession()`) on a normal shutdown.',
    );
  }
}

/** Another holder has a live lease under this session's id (e.g. two stores, or two worker threads, for one session). */
export class RedisLeaseConflictError extends RedisStoreError {
  /**
   * @param sessionId - the session
   * @param detail - what was found
   */
  constructor(sessionId: string, detail: string) {
    super(
      'E_SESSION_LEASE_CONFLICT',
      `session ${sessionId}: ${detail}. One RedisRegistryStore keeps one session's lease: ` +
        'give each session manager its own store, and register from one thread per process.',
    );
  }
}

/** An update kept losing the optimistic race to other writers for longer than `unavailableTimeoutMs`. */
export class RedisStoreContendedError extends RedisStoreError {
  /**
   * @param location - the server
   * @param attempts - how many times the update was tried
   * @param waitedMs - for how long
   */
  constructor(location: string, attempts: number, waitedMs: number) {
    super(
      'E_SESSION_STORE_CONTENDED',
      `the session registry at ${location} changed under every one of ${attempts} attempts of this update in ${waitedMs} ms; ` +
        'retry later, or raise `unavailableTimeoutMs`.',
    );
  }
}
