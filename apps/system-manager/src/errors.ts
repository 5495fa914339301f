/** Stable error codes of the system-manager app. */
export type SystemManagerErrorCode =
  | 'E_CONFIG_READ'
  | 'E_CONFIG_INVALID'
  | 'E_SERVICE_FAILED'
  | 'E_SERVICE_UNHEALTHY'
  | 'E_ALREADY_STARTED'
  | 'E_UNIT'
  | 'E_ABORTED'
  | 'E_USAGE';

/** An expected failure of the app: printed as one line to the user, never as a stack trace. */
export class SystemManagerError extends Error {
  /** Stable code callers can switch on. */
  readonly code: SystemManagerErrorCode;
  /** Extra lines shown under the message (e.g. the tail of a failed service's output). */
  readonly details: readonly string[];

  constructor(
    code: SystemManagerErrorCode,
    message: string,
    options: { cause?: unknown; details?: readonly string[] } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SystemManagerError';
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
export class ConfigError extends SystemManagerError {
  /** Exit code a CLI run should end with: 78 (EX_CONFIG). */
  readonly exitCode = EX_CONFIG;

  constructor(
    code: 'E_CONFIG_READ' | 'E_CONFIG_INVALID',
    message: string,
    options: { cause?: unknown; details?: readonly string[] } = {},
  ) {
    super(code, message, options);
    this.name = 'ConfigError';
  }
}

/** The exit code for an error that ends a CLI run: 78 for a {@link ConfigError}, 1 for anything else. */
export function exitCodeOf(error: unknown): number {
  return error instanceof ConfigError ? EX_CONFIG : 1;
}
