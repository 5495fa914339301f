/** Numbers (or other plain values) that explain why a rule does not hold: expected, actual, drift, overflow… */
export type ViolationDetails = { readonly [key: string]: unknown };

/** One field changed by a heal. */
export interface FieldChange {
  /** Name (or dotted path) of the field that changed. */
  readonly field: string;
  /** Value before the heal. */
  readonly from: unknown;
  /** Value after the heal. */
  readonly to: unknown;
}

/** Options of {@link defineInvariant}. */
export interface InvariantDefinition<S, D extends ViolationDetails = ViolationDetails> {
  /** Stable identifier, unique within an engine (e.g. `total-equals-hits-plus-misses`). */
  readonly id: string;
  /** The rule in words, shown in reports (e.g. `totalQueries == cacheHits + cacheMisses`). */
  readonly description: string;
  /**
   * Returns `null` when the rule holds, else the details of the violation.
   * Must not change the state.
   */
  readonly check: (state: Readonly<S>) => D | null;
  /**
   * Repairs the state in place and returns every field it changed.
   * Called only when `check` found a violation; never on a healthy state.
   */
  readonly heal?: ((state: S, violation: D) => FieldChange | readonly FieldChange[] | undefined) | undefined;
}

/** A named rule over a state object, made by {@link defineInvariant}. */
export interface Invariant<S, D extends ViolationDetails = ViolationDetails>
  extends InvariantDefinition<S, D> {
  /** Whether the invariant knows how to repair a violation. */
  readonly healable: boolean;
}

/** Where a reported problem came from. */
export type IssuePhase = 'check' | 'heal';

/** A violation (or a failure of a user's `check`/`heal`) reported by {@link InvariantEngine.validate}. */
export interface InvariantIssue {
  /** The invariant's `id`. */
  readonly invariantId: string;
  /** The invariant's `description`. */
  readonly description: string;
  /** The details returned by `check`; for a thrown error, `{ error: message }`. */
  readonly details: ViolationDetails;
  /** `check` for a violation or a check that threw; `heal` for a heal that threw or returned garbage. */
  readonly phase: IssuePhase;
  /** The error thrown by the user's `check` or `heal`, when there was one. */
  readonly error?: unknown;
  /** One-line human summary: the description followed by the details. */
  readonly message: string;
}

/** One field change made while healing, tagged with the invariant and pass that made it. */
export interface HealedChange extends FieldChange {
  /** Which invariant's heal made the change. */
  readonly invariantId: string;
  /** The heal pass (1-based) that made it. */
  readonly pass: number;
  /** Renders the change as `field: from → to`, e.g. `totalQueries: 100 → 95`. */
  toString(): string;
}

/** Options of {@link InvariantEngine.validate}. */
export interface ValidateOptions {
  /** Repair violations in place, to a fixpoint. Default `false`: validating never changes the state. */
  readonly autoHeal?: boolean;
}

/** What {@link InvariantEngine.validate} found and did. */
export interface ValidationReport {
  /** Whether the state held every rule *as it was found* (false when anything was healed). */
  readonly consistent: boolean;
  /** Every violation found on the first pass, plus any heal that failed. */
  readonly issues: readonly InvariantIssue[];
  /** Every field change made by healing, in order. Empty when `autoHeal` is off. */
  readonly healed: readonly HealedChange[];
  /** How many heal passes ran (0 when the state was consistent or `autoHeal` was off). */
  readonly passes: number;
  /** Whether the state holds every rule now. */
  readonly converged: boolean;
  /** The violations still present after the last pass (empty when `converged`). */
  readonly remaining: readonly InvariantIssue[];
}

/** Options of {@link createInvariantEngine}. */
export interface EngineOptions {
  /** Upper bound on heal passes before giving up with `converged: false`. Default 8. */
  readonly maxPasses?: number;
}

/** Checks (and optionally heals) a fixed set of invariants over states of type `S`. */
export interface InvariantEngine<S> {
  /** The invariants, in the order they are checked and healed. */
  readonly invariants: readonly Invariant<S, ViolationDetails>[];
  /** The heal-pass bound in force. */
  readonly maxPasses: number;
  /** Checks every rule; with `autoHeal`, heals to a fixpoint. Never throws for a user's failing check/heal. */
  validate(state: S, options?: ValidateOptions): ValidationReport;
  /** Just the violations of `state`, without healing: `[]` when every rule holds. */
  check(state: Readonly<S>): InvariantIssue[];
}
