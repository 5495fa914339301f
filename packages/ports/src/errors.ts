/** Stable codes of the errors thrown by @core/ports, for callers to switch on. */
export type PortErrorCode =
  | 'E_PORT_RANGE'
  | 'E_PORT_NAME'
  | 'E_PORT_ALIAS'
  | 'E_PORT_CONFLICT'
  | 'E_PORT_ENV'
  | 'E_PORT_EXHAUSTED'
  | 'E_PORT_PROBE';

// Every error of this package carries this mark, so `instanceof PortsError`
// holds for the ones that must stay a RangeError/TypeError (a bad value set
// on the registry is also an argument error) and across two copies of the
// package in one process.
const PORTS_ERROR = Symbol.for('@core/ports.error');

function markAsPortsError(error: Error, code: PortErrorCode): void {
  Object.defineProperty(error, PORTS_ERROR, { value: code });
}

/**
 * Base of every error @core/ports throws on purpose; switch on `code`.
 * `instanceof PortsError` also holds for {@link PortRangeError} (a
 * `RangeError`), {@link PortNameError} and {@link PortAliasError} (both
 * `TypeError`s). Bad arguments to `createPortRegistry` are plain
 * `TypeError`s.
 */
export class PortsError<Code extends PortErrorCode = PortErrorCode> extends Error {
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
    markAsPortsError(this, code);
  }

  /** True for every error of this package, including those that extend `RangeError`/`TypeError`. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: subclasses inherit this method; `this` is the class asked about
    if (this !== PortsError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && PORTS_ERROR in value;
  }
}

/**
 * A port number (or range bound) that is not an integer in 1–65535: in the
 * defaults, an assignment, a fallback list or `dynamicRange`.
 */
export class PortRangeError extends RangeError {
  /** Always `E_PORT_RANGE`. */
  readonly code = 'E_PORT_RANGE' as const;
  /** Where the value came from, e.g. `ports.main_api` or `fallbacks.frontend[1]`. */
  readonly field: string;
  /** The rejected value. */
  readonly value: unknown;
  /** @param field where the value came from; @param value the rejected value; @param expected what was expected instead */
  constructor(field: string, value: unknown, expected = 'an integer port in 1–65535') {
    super(`${field}: expected ${expected}, got ${describeValue(value)}`);
    this.name = 'PortRangeError';
    markAsPortsError(this, this.code);
    this.field = field;
    this.value = value;
  }
}

/** A port name that is not defined in the registry, or that is not a valid name. */
export class PortNameError extends TypeError {
  /** Always `E_PORT_NAME`. */
  readonly code = 'E_PORT_NAME' as const;
  /** The offending name. */
  readonly portName: string;
  /** @param portName the offending name; @param message the full message */
  constructor(portName: string, message: string) {
    super(message);
    this.name = 'PortNameError';
    markAsPortsError(this, this.code);
    this.portName = portName;
  }
}

/** An alias that points at an unknown name, or whose own name is unusable. */
export class PortAliasError extends TypeError {
  /** Always `E_PORT_ALIAS`. */
  readonly code = 'E_PORT_ALIAS' as const;
  /** The alias. */
  readonly alias: string;
  /** @param alias the alias; @param message the full message */
  constructor(alias: string, message: string) {
    super(message);
    this.name = 'PortAliasError';
    markAsPortsError(this, this.code);
    this.alias = alias;
  }
}

/** Two names would share one port. */
export class PortConflictError extends PortsError<'E_PORT_CONFLICT'> {
  /** The shared port. */
  readonly port: number;
  /** The names that would share it. */
  readonly names: readonly string[];
  /** @param port the shared port; @param names the names that would share it; @param hint what to do about it */
  constructor(port: number, names: readonly string[], hint: string) {
    super('E_PORT_CONFLICT', `port ${port} is given to more than one name (${names.join(', ')}); ${hint}`);
    this.port = port;
    this.names = names;
  }
}

/** An env override `<envPrefix><NAME>` that is not an integer port in 1–65535. */
export class PortEnvError extends PortsError<'E_PORT_ENV'> {
  /** The variable, e.g. `SYSTEM_MANAGER_PORT_MAIN_API`. */
  readonly variable: string;
  /** Its value as found. */
  readonly value: string;
  /** @param variable the env variable; @param value its value */
  constructor(variable: string, value: string) {
    super(
      'E_PORT_ENV',
      `env ${variable}=${JSON.stringify(value)} is not a port: expected an integer in 1–65535 ` +
        `(unset it or fix the value)`,
    );
    this.variable = variable;
    this.value = value;
  }
}

/** How one candidate port fared during discovery. */
export type AttemptOutcome =
  /** Bound and released: usable. */
  | 'free'
  /** EADDRINUSE: something else listens there. */
  | 'busy'
  /** EACCES: this process may not bind it (e.g. a privileged port as non-root). */
  | 'denied'
  /** Reserved by another live session of the shared session registry. */
  | 'reserved-by-other-session'
  /** Held by another name of this registry. */
  | 'used-by-other-name';

/** Where a candidate port came from. */
export type CandidateSource = 'preferred' | 'fallback' | 'dynamic';

/** One candidate port tried during discovery, with its outcome. */
export interface PortAttempt {
  /** The candidate port. */
  readonly port: number;
  /** Where it came from: the name's current port, its fallbacks, or the dynamic range. */
  readonly source: CandidateSource;
  /** What happened. */
  readonly outcome: AttemptOutcome;
}

/** No candidate port of a name was usable: preferred, fallbacks and dynamic range all tried. */
export class PortExhaustedError extends PortsError<'E_PORT_EXHAUSTED'> {
  /** The name that found no port. */
  readonly portName: string;
  /** The host probed. */
  readonly host: string;
  /** Every candidate tried, in order, with its outcome. */
  readonly attempts: readonly PortAttempt[];
  /** @param portName the name; @param host the host probed; @param attempts every candidate tried */
  constructor(portName: string, host: string, attempts: readonly PortAttempt[]) {
    super(
      'E_PORT_EXHAUSTED',
      `no free port for "${portName}" on ${host}: tried ${formatAttempts(attempts) || 'nothing'}; ` +
        'free one of them, or add fallbacks or a wider dynamicRange',
    );
    this.portName = portName;
    this.host = host;
    this.attempts = attempts;
  }
}

/** Binding a candidate failed for a reason other than EADDRINUSE/EACCES (e.g. EADDRNOTAVAIL for a bad host). */
export class PortProbeError extends PortsError<'E_PORT_PROBE'> {
  /** The host probed. */
  readonly host: string;
  /** The port probed. */
  readonly port: number;
  /** @param host the host; @param port the port; @param cause the bind error */
  constructor(host: string, port: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super('E_PORT_PROBE', `cannot probe ${host}:${port}: ${reason}`, { cause });
    this.host = host;
    this.port = port;
  }
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Renders attempts compactly: consecutive ports with the same outcome become one range (`9000–9099 busy`). */
export function formatAttempts(attempts: readonly PortAttempt[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < attempts.length) {
    const first = attempts[i]!;
    let j = i;
    while (
      j + 1 < attempts.length &&
      attempts[j + 1]!.outcome === first.outcome &&
      attempts[j + 1]!.source === first.source &&
      attempts[j + 1]!.port === attempts[j]!.port + 1
    ) {
      j += 1;
    }
    const last = attempts[j]!;
    parts.push(j > i + 1 ? `${first.port}–${last.port} ${first.outcome}` : `${first.port} ${first.outcome}`);
    if (j === i + 1) parts[parts.length - 1] = `${first.port} ${first.outcome}, ${last.port} ${last.outcome}`;
    i = j + 1;
  }
  return parts.join(', ');
}
