import { formatChange, formatDetails } from './format.js';
import type {
  EngineOptions,
  FieldChange,
  HealedChange,
  Invariant,
  InvariantEngine,
  InvariantIssue,
  IssuePhase,
  ValidateOptions,
  ValidationReport,
  ViolationDetails,
} from './types.js';

const DEFAULT_MAX_PASSES = 8;

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function makeIssue(
  invariant: Invariant<never, ViolationDetails>,
  details: ViolationDetails,
  phase: IssuePhase,
  error?: unknown,
): InvariantIssue {
  const summary = formatDetails(details);
  const message = `${invariant.description}${summary ? ` (${summary})` : ''}`;
  return error === undefined
    ? { invariantId: invariant.id, description: invariant.description, details, phase, message }
    : { invariantId: invariant.id, description: invariant.description, details, phase, error, message };
}

function failedCheckIssue(invariant: Invariant<never, ViolationDetails>, error: unknown): InvariantIssue {
  return makeIssue(invariant, { error: errorMessage(error) }, 'check', error);
}

// Non-enumerable so a report serialises to plain JSON while `String(change)` still gives the line.
function tagChange(change: FieldChange, invariantId: string, pass: number): HealedChange {
  const healed = { field: change.field, from: change.from, to: change.to, invariantId, pass };
  Object.defineProperty(healed, 'toString', { value: () => formatChange(healed), enumerable: false });
  return healed as HealedChange;
}

function isFieldChange(value: unknown): value is FieldChange {
  return typeof value === 'object' && value !== null && typeof (value as FieldChange).field === 'string';
}

/** Normalises what a heal returned; `null` means it returned something that is not a change. */
function asChanges(returned: unknown): readonly FieldChange[] | null {
  if (returned === undefined) return [];
  if (isFieldChange(returned)) return [returned];
  if (Array.isArray(returned) && returned.every(isFieldChange)) return returned;
  return null;
}

function validateMaxPasses(maxPasses: unknown): number {
  if (typeof maxPasses !== 'number' || !Number.isInteger(maxPasses) || maxPasses < 1) {
    throw new RangeError(
      `createInvariantEngine: "maxPasses" must be an integer >= 1, got ${JSON.stringify(maxPasses)}`,
    );
  }
  return maxPasses;
}

/**
 * Builds an engine that checks `invariants` in order and, on request, heals
 * violations to a fixpoint (bounded by `maxPasses`, default 8).
 *
 * The engine is pure and synchronous: no I/O, no timers, no locks. Callers that
 * share a state across awaits hold their own lock around `validate`.
 *
 * @throws TypeError when two invariants share an id.
 * @throws RangeError when `maxPasses` is not an integer >= 1.
 */
export function createInvariantEngine<S>(
  invariants: readonly Invariant<S, ViolationDetails>[],
  options: EngineOptions = {},
): InvariantEngine<S> {
  const maxPasses = validateMaxPasses(options.maxPasses ?? DEFAULT_MAX_PASSES);
  const rules = Object.freeze([...invariants]);
  const seen = new Set<string>();
  for (const rule of rules) {
    if (typeof rule?.check !== 'function') {
      throw new TypeError('createInvariantEngine: every entry must be made by defineInvariant()');
    }
    if (seen.has(rule.id)) throw new TypeError(`createInvariantEngine: duplicate invariant id "${rule.id}"`);
    seen.add(rule.id);
  }
  // The engine only ever hands a rule the state it was given; the casts below
  // let one helper serve rules typed over S.
  type AnyRule = Invariant<never, ViolationDetails>;

  function checkOne(rule: Invariant<S, ViolationDetails>, state: S): InvariantIssue | null {
    try {
      const details = rule.check(state);
      return details === null || details === undefined
        ? null
        : makeIssue(rule as unknown as AnyRule, details, 'check');
    } catch (error) {
      return failedCheckIssue(rule as unknown as AnyRule, error);
    }
  }

  function checkAll(state: S): InvariantIssue[] {
    const found: InvariantIssue[] = [];
    for (const rule of rules) {
      const issue = checkOne(rule, state);
      if (issue !== null) found.push(issue);
    }
    return found;
  }

  function validate(state: S, { autoHeal = false }: ValidateOptions = {}): ValidationReport {
    const issues = checkAll(state);
    if (issues.length === 0) {
      return { consistent: true, issues, healed: [], passes: 0, converged: true, remaining: [] };
    }
    if (!autoHeal) {
      return { consistent: false, issues, healed: [], passes: 0, converged: false, remaining: issues };
    }

    const healed: HealedChange[] = [];
    let remaining = issues;
    let passes = 0;
    while (remaining.length > 0 && passes < maxPasses) {
      passes += 1;
      let changedThisPass = 0;
      for (const rule of rules) {
        if (!rule.heal) continue;
        // Re-check right before healing: an earlier heal in this pass may already have fixed it.
        const issue = checkOne(rule, state);
        if (issue === null || issue.error !== undefined) continue;
        let returned: unknown;
        try {
          returned = rule.heal(state, issue.details);
        } catch (error) {
          issues.push(makeIssue(rule as unknown as AnyRule, { error: errorMessage(error) }, 'heal', error));
          continue;
        }
        const changes = asChanges(returned);
        if (changes === null) {
          issues.push(
            makeIssue(
              rule as unknown as AnyRule,
              { error: 'heal must return { field, from, to }, an array of them, or undefined' },
              'heal',
            ),
          );
          continue;
        }
        for (const change of changes) {
          if (Object.is(change.from, change.to)) continue;
          healed.push(tagChange(change, rule.id, passes));
          changedThisPass += 1;
        }
      }
      remaining = checkAll(state);
      // No heal changed anything: more passes cannot converge.
      if (changedThisPass === 0) break;
    }
    return { consistent: false, issues, healed, passes, converged: remaining.length === 0, remaining };
  }

  return Object.freeze({
    invariants: rules,
    maxPasses,
    validate,
    check: (state: Readonly<S>) => checkAll(state as S),
  });
}
