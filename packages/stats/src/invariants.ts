import { createInvariantEngine, defineInvariant, type FieldChange } from '@core/invariants';
import { addMultiple, decimalToNumber, type ExactDecimal, ZERO } from './exact-decimal.js';

/** The integer counters of a tracker (everything but the cost). */
export const INTEGER_COUNTERS = [
  'cacheHits',
  'cacheMisses',
  'cacheExpired',
  'totalQueries',
  'queriesWhileUninitialized',
  'expiredEntriesCleaned',
  'cleanupRuns',
  'cleanupErrors',
] as const;

/** Name of an integer counter. */
export type IntegerCounter = (typeof INTEGER_COUNTERS)[number];

/**
 * The state the invariants run over: the tracker's live counters. The cost
 * is kept exact as `costBase + costPerInference × costHits` (see
 * exact-decimal.ts) and only turned into a Number when read.
 */
export interface CounterState extends Record<IntegerCounter, number> {
  /** Cost saved carried in from a snapshot (exact). */
  costBase: ExactDecimal;
  /** Hits that added savings since the base was set. */
  costHits: number;
  /** Cost of one inference (exact, >= 0). */
  readonly costUnit: ExactDecimal;
}

/** Cost saved so far as a Number (nearest to the exact decimal). */
export function costSavedUsd(state: Readonly<CounterState>): number {
  return decimalToNumber(addMultiple(state.costBase, state.costUnit, state.costHits));
}

const isCount = (value: number): boolean => Number.isInteger(value) && value >= 0;

/**
 * Whether the cost saved is below zero. The unit and the hit count are >= 0
 * by construction, so only a negative base restored from a snapshot can make
 * it so, and the exact sum is only computed then (hits since may have lifted it).
 */
function costIsNegative(s: Readonly<CounterState>): boolean {
  return s.costBase.units < 0n && addMultiple(s.costBase, s.costUnit, s.costHits).units < 0n;
}

/** Rule 4: every counter is a finite integer >= 0 (the cost: finite and >= 0). Heal: set it to 0. */
const countersNonNegative = defineInvariant<CounterState>({
  id: 'counters-non-negative',
  description: 'every counter >= 0 and a finite integer (costSavedUsd: finite and >= 0)',
  check: (s) => {
    let invalid: Record<string, number> | undefined;
    for (const field of INTEGER_COUNTERS) {
      if (!isCount(s[field])) {
        invalid ??= {};
        invalid[field] = s[field];
      }
    }
    if (costIsNegative(s)) {
      invalid ??= {};
      invalid['costSavedUsd'] = costSavedUsd(s);
    }
    return invalid === undefined ? null : { invalid, expected: 'finite integer >= 0' };
  },
  heal: (s) => {
    const changes: FieldChange[] = [];
    for (const field of INTEGER_COUNTERS) {
      if (!isCount(s[field])) {
        changes.push({ field, from: s[field], to: 0 });
        s[field] = 0;
      }
    }
    if (costIsNegative(s)) {
      changes.push({ field: 'costSavedUsd', from: costSavedUsd(s), to: 0 });
      s.costBase = ZERO;
      s.costHits = 0;
    }
    return changes;
  },
});

/** Rule 1: totalQueries == cacheHits + cacheMisses. Heal: set the total to the sum. */
const totalIsHitsPlusMisses = defineInvariant<CounterState>({
  id: 'total-equals-hits-plus-misses',
  description: 'totalQueries == cacheHits + cacheMisses',
  check: (s) => {
    const expected = s.cacheHits + s.cacheMisses;
    return s.totalQueries === expected
      ? null
      : { expected, actual: s.totalQueries, drift: s.totalQueries - expected };
  },
  heal: (s) => {
    const from = s.totalQueries;
    s.totalQueries = s.cacheHits + s.cacheMisses;
    return { field: 'totalQueries', from, to: s.totalQueries };
  },
});

/** Rule 2: cacheExpired <= cacheMisses. Heal: cap expired at misses. */
const expiredWithinMisses = defineInvariant<CounterState>({
  id: 'expired-within-misses',
  description: 'cacheExpired <= cacheMisses',
  check: (s) =>
    s.cacheExpired <= s.cacheMisses
      ? null
      : { limit: s.cacheMisses, actual: s.cacheExpired, overflow: s.cacheExpired - s.cacheMisses },
  heal: (s) => {
    const from = s.cacheExpired;
    s.cacheExpired = Math.max(0, s.cacheMisses);
    return { field: 'cacheExpired', from, to: s.cacheExpired };
  },
});

/** Rule 3: queriesWhileUninitialized <= cacheMisses. Heal: cap it at misses. */
const uninitializedWithinMisses = defineInvariant<CounterState>({
  id: 'uninitialized-within-misses',
  description: 'queriesWhileUninitialized <= cacheMisses',
  check: (s) =>
    s.queriesWhileUninitialized <= s.cacheMisses
      ? null
      : {
          limit: s.cacheMisses,
          actual: s.queriesWhileUninitialized,
          overflow: s.queriesWhileUninitialized - s.cacheMisses,
        },
  heal: (s) => {
    const from = s.queriesWhileUninitialized;
    s.queriesWhileUninitialized = Math.max(0, s.cacheMisses);
    return { field: 'queriesWhileUninitialized', from, to: s.queriesWhileUninitialized };
  },
});

/**
 * Rule 5: the two miss categories
 * are disjoint. Heal: keep `cacheExpired` (rule 2 already bounds it) and cap
 * `queriesWhileUninitialized` at the misses left over.
 */
const missCategoriesDisjoint = defineInvariant<CounterState>({
  id: 'miss-categories-disjoint',
  description: 'cacheExpired + queriesWhileUninitialized <= cacheMisses',
  check: (s) => {
    const actual = s.cacheExpired + s.queriesWhileUninitialized;
    return actual <= s.cacheMisses
      ? null
      : { limit: s.cacheMisses, actual, overflow: actual - s.cacheMisses };
  },
  heal: (s) => {
    const from = s.queriesWhileUninitialized;
    s.queriesWhileUninitialized = Math.max(0, s.cacheMisses - Math.max(0, s.cacheExpired));
    return { field: 'queriesWhileUninitialized', from, to: s.queriesWhileUninitialized };
  },
});

/**
 * The five invariants of a tracker, in heal order. Non-negativity comes first
 * and the disjointness cap before rule 3, so a typical drift heals in one pass
 * with each field changed once; the engine still re-checks to a fixpoint,
 * because healing one rule can break another (a negative hit count set to 0
 * changes the total that rule 3 compares).
 */
export const STATS_INVARIANTS = Object.freeze([
  countersNonNegative,
  totalIsHitsPlusMisses,
  expiredWithinMisses,
  missCategoriesDisjoint,
  uninitializedWithinMisses,
]);

/** The engine every tracker shares (the rules are pure; the state is per tracker). */
export const statsEngine = createInvariantEngine<CounterState>(STATS_INVARIANTS);
