/** Stable error codes of @core/session; switch on `error.code`, not on messages. */
export type SessionErrorCode =
  | 'E_SESSION_DIR_UNSAFE'
  | 'E_SESSION_LOCK_TIMEOUT'
  | 'E_SESSION_LOCK_LOST'
  | 'E_SESSION_OPTIONS_CONFLICT'
  | 'E_SESSION_CLAIM_CONFLICT'
  | 'E_SESSION_CLAIM_UNSETTLED'
  | 'E_SESSION_WRITE_FAILED'
  | 'E_SESSION_TAKEN_OVER'
  | 'E_SESSION_VERSION_CONFLICT';

/**
 * Base class of every error this package (and a store built on it, e.g.
 * `RedisStoreError extends SessionError<RedisStoreErrorCode>`) throws on
 * purpose; argument errors are plain `TypeError`/`RangeError`.
 */
export class SessionError<Code extends string = SessionErrorCode> extends Error {
  /** Stable machine-readable code. */
  readonly code: Code;

  /**
   * @param code - stable code
   * @param message - what was wrong, with the value, and what to do
   * @param options - `cause` when wrapping another error
   */
  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The session directory is a symlink, owned by another user, or group/world-writable. */
export class SessionDirUnsafeError extends SessionError {
  /** The refused path. */
  readonly path: string;

  /**
   * @param path - the refused directory
   * @param problem - what is wrong with it
   */
  constructor(path: string, problem: string) {
    super(
      'E_SESSION_DIR_UNSAFE',
      `session directory ${JSON.stringify(path)} is unsafe: ${problem}. ` +
        'Remove or fix it (it must be a real directory owned by you with mode 0700), ' +
        'or point CORE_SESSION_DIR (or the `dir` option) at a private directory.',
    );
    this.path = path;
  }
}

/**
 * The registry lock could not be acquired within `lockTimeoutMs`.
 * @deprecated Never thrown: the session registry takes no lock (one record per session, claims by exclusive create). Removed in the next major.
 */
export class SessionLockTimeoutError extends SessionError {
  /** The lock file that stayed held. */
  readonly lockFile: string;
  /** Who held it when we gave up, as recorded in the lock file (if readable). */
  readonly holder: string | null;

  /**
   * @param lockFile - path of the lock file
   * @param timeoutMs - how long we waited
   * @param holder - description of the holder, if known
   */
  constructor(lockFile: string, timeoutMs: number, holder: string | null) {
    super(
      'E_SESSION_LOCK_TIMEOUT',
      `could not acquire the session registry lock ${JSON.stringify(lockFile)} within ${timeoutMs} ms` +
        (holder ? ` (held by ${holder})` : '') +
        '. If no process is working with the registry, delete the lock file; otherwise raise `lockTimeoutMs`.',
    );
    this.lockFile = lockFile;
    this.holder = holder;
  }
}

/**
 * An async update lost the registry lock before it could write (a sync call of the same thread took it over).
 * @deprecated Never thrown: the session registry takes no lock (one record per session, claims by exclusive create). Removed in the next major.
 */
export class SessionLockLostError extends SessionError {
  /** The lock file. */
  readonly lockFile: string;

  /** @param lockFile - the lock file */
  constructor(lockFile: string) {
    super(
      'E_SESSION_LOCK_LOST',
      `the session registry lock ${JSON.stringify(lockFile)} was taken over before this update could write; ` +
        'the update was not applied. Do not call a sync registry method while an async one is in flight in the same thread.',
    );
    this.lockFile = lockFile;
  }
}

/** `getSessionManager(options)` was called with options that differ from the existing singleton's. */
export class SessionOptionsConflictError extends SessionError {
  /**
   * @param field - the option that differs
   * @param existing - the singleton's value
   * @param requested - the value asked for
   */
  constructor(field: string, existing: unknown, requested: unknown) {
    super(
      'E_SESSION_OPTIONS_CONFLICT',
      `getSessionManager: option "${field}" is ${describe(requested)} but the process-wide session manager ` +
        `already exists with ${describe(existing)}. Pass the same options (or none) after the first call, ` +
        'or use createSessionManager() for an independent manager.',
    );
  }
}

/** A `claimResources` chooser returned an id that another live session already owns. */
export class SessionClaimConflictError extends SessionError {
  /**
   * @param kind - resource kind
   * @param id - the id owned elsewhere
   */
  constructor(kind: string, id: string) {
    super(
      'E_SESSION_CLAIM_CONFLICT',
      `claimResources("${kind}"): the chooser returned id ${JSON.stringify(id)}, which another live session owns; ` +
        'choose only ids that are not in `takenByOthers`.',
    );
  }
}

/**
 * A claim file kept changing hands while this session tried to settle it
 * (a chain of dead claimants longer than the store follows, or a claim
 * rewritten under every attempt); nothing is claimed, try again.
 */
export class SessionClaimUnsettledError extends SessionError {
  /** The claim (its file name in the claims directory). */
  readonly claim: string;

  /**
   * @param claim - the claim's file name
   * @param problem - what kept it from settling
   */
  constructor(claim: string, problem: string) {
    super('E_SESSION_CLAIM_UNSETTLED', `claim ${claim}: ${problem}; nothing was claimed, try again`);
    this.claim = claim;
  }
}

/** A write of a session file failed (full disk, quota, file size limit, I/O error, read-only filesystem); the previous file is kept. */
export class SessionWriteError extends SessionError {
  /** The file that could not be written. */
  readonly file: string;
  /** The errno code (`ENOSPC`, `EDQUOT`, `EFBIG`, `EIO`, `EROFS`, …), or null. */
  readonly errno: string | null;

  /**
   * @param file - the target file
   * @param cause - the underlying error
   */
  constructor(file: string, cause: unknown) {
    const errno = (cause as NodeJS.ErrnoException | undefined)?.code ?? null;
    super(
      'E_SESSION_WRITE_FAILED',
      `could not write session file ${JSON.stringify(file)}: ${errno ?? (cause as Error | undefined)?.message ?? 'unknown error'}; ` +
        'the previous content was kept. Free space (or raise the quota / file size limit) in the session directory.',
      { cause },
    );
    this.file = file;
    this.errno = errno;
  }
}

/** The owner tried to write a record that a reaper holds (it judged the owner dead); nothing was written back. */
export class SessionTakenOverError extends SessionError {
  /** The session whose record is held. */
  readonly sessionId: string;
  /** The reaper's sessionId, when known. */
  readonly by: string | null;

  /**
   * @param sessionId - the owner session
   * @param by - the reaper, when known
   */
  constructor(sessionId: string, by: string | null) {
    super(
      'E_SESSION_TAKEN_OVER',
      `session ${sessionId} was judged dead and taken over by a reaper${by ? ` (${by})` : ''}; ` +
        'its record was not written back. Its resources are being cleaned up by the reaper.',
    );
    this.sessionId = sessionId;
    this.by = by;
  }
}

/** Two copies of @core/session with incompatible major versions were loaded in one process. */
export class SessionVersionConflictError extends SessionError {
  /**
   * @param existing - version of the copy that created the process session
   * @param mine - version of this copy
   */
  constructor(existing: string, mine: string) {
    super(
      'E_SESSION_VERSION_CONFLICT',
      `@core/session ${mine} was loaded while @core/session ${existing} already holds this process's session; ` +
        'their majors differ, so they cannot share it. Deduplicate @core/session (one major) in your lockfile.',
    );
  }
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a different function';
  if (typeof value === 'object' && value !== null) return 'a different object';
  return JSON.stringify(value);
}
