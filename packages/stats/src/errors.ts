/**
 * Stable codes of the errors this package throws, for callers to switch on:
 * `E_STATS_CONFIG_INVALID` (an environment variable is not usable),
 * `E_STATS_SNAPSHOT_INVALID` (a snapshot given to `restore`/`fromSnapshot`
 * has a wrong type or shape), `E_STATS_METRIC_CONFLICT` (a prom-client
 * registry already has a metric of that name).
 */
export type StatsErrorCode =
  | 'E_STATS_CONFIG_INVALID'
  | 'E_STATS_SNAPSHOT_INVALID'
  | 'E_STATS_METRIC_CONFLICT';

/**
 * The codes as an object, for code written against it.
 * @deprecated Compare `error.code` with the string codes of {@link StatsErrorCode}; removed in the next major.
 */
export const StatsErrorCode = Object.freeze({
  /** A configuration value (an environment variable) is not usable. */
  configInvalid: 'E_STATS_CONFIG_INVALID',
  /** A snapshot given to `restore`/`fromSnapshot` has a wrong type or shape. */
  snapshotInvalid: 'E_STATS_SNAPSHOT_INVALID',
} as const);

// Every error of this package carries this mark, so `instanceof StatsError`
// holds for StatsSnapshotError (which stays a TypeError) and across two copies
// of the package in one process.
const STATS_ERROR = Symbol.for('@core/stats.error');

function markAsStatsError(error: Error, code: StatsErrorCode): void {
  Object.defineProperty(error, STATS_ERROR, { value: code });
}

/**
 * Base of every error @core/stats throws on purpose; switch on `code`.
 * `instanceof StatsError` also holds for {@link StatsSnapshotError} (a
 * `TypeError`). Bad arguments are plain `TypeError`/`RangeError`.
 */
export class StatsError<Code extends StatsErrorCode = StatsErrorCode> extends Error {
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
    markAsStatsError(this, code);
  }

  /** True for every error of this package, including StatsSnapshotError (a `TypeError`). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: subclasses inherit this method; `this` is the class asked about
    if (this !== StatsError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && STATS_ERROR in value;
  }
}

/**
 * A configuration value the tracker reads from the environment is not usable,
 * e.g. `ML_INFERENCE_COST_USD=abc`. Thrown by the constructor instead of
 * silently computing with `NaN`.
 */
export class StatsConfigurationError extends StatsError<'E_STATS_CONFIG_INVALID'> {
  /** The environment variable that holds the bad value. */
  readonly variable: string;
  /** The bad value, as found. */
  readonly value: string;

  /** @param variable the variable's name; @param value its bad value; @param expected what a good value looks like. */
  constructor(variable: string, value: string, expected: string) {
    super(
      'E_STATS_CONFIG_INVALID',
      `${variable}=${JSON.stringify(value)} is not usable: expected ${expected}. Fix or unset ${variable}.`,
    );
    this.variable = variable;
    this.value = value;
  }
}

/** One problem found in a snapshot: the field's dotted path and what is wrong with it. */
export interface SnapshotProblem {
  /** Dotted path of the field (`cacheHits`), or `(snapshot)` for the snapshot itself. */
  readonly field: string;
  /** What was expected and what was found, e.g. `expected number, got string "12"`. */
  readonly problem: string;
}

/**
 * A snapshot given to `restore`/`fromSnapshot` has a wrong type or shape
 * (checked with zod). Values that merely break an invariant (a negative
 * counter, a total that does not add up) are accepted, not rejected: healing
 * them is `validateConsistency`'s job.
 */
export class StatsSnapshotError extends TypeError {
  /** Always `E_STATS_SNAPSHOT_INVALID`. */
  readonly code = 'E_STATS_SNAPSHOT_INVALID' as const;
  /** Every problem found, in field order. */
  readonly problems: readonly SnapshotProblem[];

  /** @param problems what is wrong; @param options the zod error as `cause`. */
  constructor(problems: readonly SnapshotProblem[], options?: { cause?: unknown }) {
    super(`invalid stats snapshot: ${problems.map((p) => `${p.field}: ${p.problem}`).join('; ')}`, options);
    this.name = 'StatsSnapshotError';
    markAsStatsError(this, this.code);
    this.problems = problems;
  }
}

/**
 * `StatsRegistry.registerWith`: the prom-client registry already has a metric
 * of one of the names it would add (registered by another StatsRegistry, or by
 * other code); nothing was added.
 */
export class StatsMetricConflictError extends StatsError<'E_STATS_METRIC_CONFLICT'> {
  /** The metric name already taken. */
  readonly metric: string;

  /** @param metric the taken name; @param hint what to do about it. */
  constructor(metric: string, hint: string) {
    super(
      'E_STATS_METRIC_CONFLICT',
      `StatsRegistry.registerWith: the prom-client registry already has a metric named ${metric}${hint}`,
    );
    this.metric = metric;
  }
}
