/**
 * Stable error codes of the system-manager app: what its CLI logs and its
 * control protocol answers, so they keep their names.
 */
export type SystemManagerErrorCode =
  | 'E_CONFIG_READ'
  | 'E_CONFIG_INVALID'
  | 'E_SERVICE_FAILED'
  | 'E_SERVICE_UNHEALTHY'
  | 'E_ALREADY_STARTED'
  | 'E_UNIT'
  | 'E_UNIT_SYNTAX'
  | 'E_SECRET_FILE_REFUSED'
  | 'E_LOG_DIR_UNSAFE'
  | 'E_CLEANUP_VALUE_UNSAFE'
  | 'E_CLEANUP_NO_TOKEN'
  | 'E_ABORTED'
  | 'E_USAGE'
  | 'E_NO_SUCH_SERVICE'
  | 'E_SERVICE_NOT_RUNNING'
  | 'E_CONTROL_SOCKET'
  | 'E_CONTROL_UNAVAILABLE'
  | 'E_CONTROL_DENIED'
  | 'E_CONTROL_PROTOCOL';

/**
 * An expected failure of the app: printed as one line to the user, never as
 * a stack trace. Every error the app throws on purpose is one.
 */
export class SystemManagerError<Code extends SystemManagerErrorCode = SystemManagerErrorCode> extends Error {
  /** Stable code callers can switch on. */
  readonly code: Code;
  /** Extra lines shown under the message (e.g. the tail of a failed service's output). */
  readonly details: readonly string[];

  constructor(code: Code, message: string, options: { cause?: unknown; details?: readonly string[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? [];
  }
}

/** sysexits(3) EX_CONFIG: the exit code of a run that failed on its configuration. `RestartPreventExitStatus=78` in the unit stops systemd from restarting it. */
export const EX_CONFIG = 78;

/**
 * The config (file, env or flag) is unreadable or invalid. `details` names
 * every bad field; `exitCode` is {@link EX_CONFIG}, so a supervisor does not
 * restart a run that can only fail the same way again.
 */
export class ConfigError extends SystemManagerError<'E_CONFIG_READ' | 'E_CONFIG_INVALID'> {
  /** Exit code a CLI run should end with: 78 (EX_CONFIG). */
  readonly exitCode = EX_CONFIG;

  constructor(
    code: 'E_CONFIG_READ' | 'E_CONFIG_INVALID',
    message: string,
    options: { cause?: unknown; details?: readonly string[] } = {},
  ) {
    super(code, message, options);
  }
}

/** sysexits(3) EX_UNAVAILABLE: no manager answers on a control socket. */
export const EX_UNAVAILABLE = 69;
/** sysexits(3) EX_NOPERM: the control socket cannot be opened by this user. */
export const EX_NOPERM = 77;

/**
 * The exit code for an error that ends a CLI run: 78 for a {@link ConfigError},
 * 69 when no manager answers, 77 when its control socket is not ours to open,
 * 2 for a usage error (an unknown service name too), 1 for anything else.
 */
export function exitCodeOf(error: unknown): number {
  if (error instanceof ConfigError) return EX_CONFIG;
  if (!(error instanceof SystemManagerError)) return 1;
  if (error.code === 'E_CONTROL_UNAVAILABLE') return EX_UNAVAILABLE;
  if (error.code === 'E_CONTROL_DENIED') return EX_NOPERM;
  if (error.code === 'E_USAGE' || error.code === 'E_NO_SUCH_SERVICE') return 2;
  return 1;
}
