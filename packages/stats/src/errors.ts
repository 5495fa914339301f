/** Stable codes of the errors this package throws, for callers to switch on. */
export const StatsErrorCode = Object.freeze({
  /** A configuration value (an environment variable) is not usable. */
  configInvalid: 'E_STATS_CONFIG_INVALID',
  /** A snapshot given to `restore`/`fromSnapshot` has a wrong type or shape. */
  snapshotInvalid: 'E_STATS_SNAPSHOT_INVALID',
} as const);

/**
 * A configuration value the tracker reads from the environment is not usable,
 * e.g. `ML_INFERENCE_COST_USD=abc`. Thrown by the constructor instead of
 * silently computing with `NaN`.
 */
export class StatsConfigurationError extends Error {
  /** Always `E_STATS_CONFIG_INVALID`. */
  readonly code = StatsErrorCode.configInvalid;
  /** The environment variable that holds the bad value. */
  readonly variable: string;
  /** The bad value, as found. */
  readonly value: string;

  /** @param variable the variable's name; @param value its bad value; @param expected what a good value looks like. */
  constructor(variable: string, value: string, expected: string) {
    super(
      `${variable}=${JSON.stringify(value)} is not usable: expected ${expected}. Fix or unset ${variable}.`,
    );
    this.name = 'StatsConfigurationError';
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
  readonly code = StatsErrorCode.snapshotInvalid;
  /** Every problem found, in field order. */
  readonly problems: readonly SnapshotProblem[];

  /** @param problems what is wrong; @param options the zod error as `cause`. */
  constructor(problems: readonly SnapshotProblem[], options?: { cause?: unknown }) {
    super(`invalid stats snapshot: ${problems.map((p) => `${p.field}: ${p.problem}`).join('; ')}`, options);
    this.name = 'StatsSnapshotError';
    this.problems = problems;
  }
}
