/** Stable error codes of the system-manager app. */
export type SystemManagerErrorCode =
  | 'E_CONFIG_READ'
  | 'E_CONFIG_INVALID'
  | 'E_SERVICE_FAILED'
  | 'E_SERVICE_UNHEALTHY'
  | 'E_ALREADY_STARTED'
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
