import type { HealedChange, InvariantIssue } from '@core/invariants';
import { EventCode, EventLog } from './event-log.js';
import { decimalFromNumber, ZERO } from './exact-decimal.js';
import { type CounterState, costSavedUsd, INTEGER_COUNTERS, statsEngine } from './invariants.js';
import { rate } from './rate.js';
import type { ParsedSnapshot, StatsSnapshot } from './snapshot.js';

/** The core counters and rates `validateConsistency` reports, after any healing. */
export interface ConsistencyState {
  /** Queries answered from the cache. */
  readonly cacheHits: number;
  /** Queries the cache could not answer. */
  readonly cacheMisses: number;
  /** Misses because the entry had expired. */
  readonly cacheExpired: number;
  /** Every query. */
  readonly totalQueries: number;
  /** Misses because the cache was not initialized yet. */
  readonly queriesWhileUninitialized: number;
  /** `cacheHits / (cacheHits + cacheMisses)` within [0, 1]; 0 when the denominator is not positive. */
  readonly hitRate: number;
  /** `cacheExpired / (cacheHits + cacheExpired)` within [0, 1]; 0 when the denominator is not positive. */
  readonly expiredRate: number;
}

/** What `validateConsistency` found and did. */
export interface ConsistencyResult {
  /** Whether the counters held every invariant *as found* (false when anything had to be healed). */
  readonly consistent: boolean;
  /** Whether they hold every invariant now (always true after a heal; false when a violation was left unhealed). */
  readonly converged: boolean;
  /** Every violation found, with the numbers that explain it (`details`: expected/actual/drift, limit/overflow…). */
  readonly issues: readonly InvariantIssue[];
  /**
   * Every field change made by healing, as the engine's change objects
   * `{ field, from, to, invariantId, pass }`; `String(change)` renders the line
   * `totalQueries: 100 → 95`, and they serialise to plain JSON.
   */
  readonly healed: readonly HealedChange[];
  /** The `autoHeal` option this call ran with. */
  readonly autoHealEnabled: boolean;
  /** `consistencyViolations` after this call. */
  readonly totalViolations: number;
  /** `autoHealCount` after this call. */
  readonly totalHeals: number;
  /** When this check ran (epoch ms); also the new `lastConsistencyCheck`. */
  readonly lastCheck: number;
  /** The core counters and rates after this call. */
  readonly currentState: ConsistencyState;
}

/**
 * The synchronous heart of a tracker: counters, bookkeeping and the event log.
 * Every method runs start to finish without yielding, so on Node's single
 * thread no other code can observe or interleave with half an update; that is
 * why the async tracker around it needs no mutex. Internal (not exported by
 * the package); the benchmark measures it to isolate the synchronous work.
 */
export class StatsCore {
  readonly state: CounterState;
  readonly log: EventLog;
  readonly clock: () => number;
  readonly costPerInference: number;
  consistencyViolations = 0;
  autoHealCount = 0;
  lastConsistencyCheck: number | null = null;
  startedAt: number;

  constructor(costPerInference: number, maxEventLogSize: number, clock: () => number) {
    this.costPerInference = costPerInference;
    this.clock = clock;
    this.log = new EventLog(maxEventLogSize);
    this.state = {
      cacheHits: 0,
      cacheMisses: 0,
      cacheExpired: 0,
      totalQueries: 0,
      queriesWhileUninitialized: 0,
      expiredEntriesCleaned: 0,
      cleanupRuns: 0,
      cleanupErrors: 0,
      costBase: ZERO,
      costHits: 0,
      costUnit: decimalFromNumber(costPerInference),
    };
    this.startedAt = clock();
  }

  get costSavedUsd(): number {
    return costSavedUsd(this.state);
  }

  #event(code: number, value = 0): void {
    const s = this.state;
    this.log.push(this.clock(), code, s.cacheHits, s.cacheMisses, s.totalQueries, value);
  }

  hit(addCostSavings: boolean): void {
    const s = this.state;
    s.cacheHits += 1;
    s.totalQueries += 1;
    // Exact cost: count the saving hits; the dollar sum is computed (in BigInt) only when read.
    if (addCostSavings) s.costHits += 1;
    this.#event(addCostSavings ? EventCode.hitWithSavings : EventCode.hitWithoutSavings);
  }

  miss(isExpired: boolean, isUninitialized: boolean): void {
    const s = this.state;
    s.cacheMisses += 1;
    s.totalQueries += 1;
    if (isExpired) {
      s.cacheExpired += 1;
      this.#event(EventCode.missExpired);
    } else if (isUninitialized) {
      s.queriesWhileUninitialized += 1;
      this.#event(EventCode.missUninitialized);
    } else {
      this.#event(EventCode.miss);
    }
  }

  cleanup(entriesCleaned: number, success: boolean): void {
    const s = this.state;
    s.cleanupRuns += 1;
    if (success) {
      s.expiredEntriesCleaned += entriesCleaned;
      this.#event(EventCode.cleanupSuccess, entriesCleaned);
    } else {
      s.cleanupErrors += 1;
      this.#event(EventCode.cleanupFailed, entriesCleaned);
    }
  }

  cleanupError(): void {
    this.state.cleanupErrors += 1;
    this.#event(EventCode.cleanupError);
  }

  currentState(): ConsistencyState {
    const s = this.state;
    return {
      cacheHits: s.cacheHits,
      cacheMisses: s.cacheMisses,
      cacheExpired: s.cacheExpired,
      totalQueries: s.totalQueries,
      queriesWhileUninitialized: s.queriesWhileUninitialized,
      hitRate: rate(s.cacheHits, s.cacheHits + s.cacheMisses),
      expiredRate: rate(s.cacheExpired, s.cacheHits + s.cacheExpired),
    };
  }

  validate(autoHeal: boolean): ConsistencyResult {
    const now = this.clock();
    const report = statsEngine.validate(this.state, { autoHeal });
    this.lastConsistencyCheck = now;
    if (report.issues.length > 0) {
      this.consistencyViolations += 1;
      this.autoHealCount += report.healed.length;
      const s = this.state;
      // Frozen because getRecentEvents hands out this same object every time.
      const details = Object.freeze({
        invariants: Object.freeze(report.issues.map((issue) => issue.invariantId)),
        healed: Object.freeze(report.healed.map(String)),
        autoHeal,
        converged: report.converged,
      });
      this.log.pushWithDetails(
        now,
        EventCode.consistencyViolation,
        s.cacheHits,
        s.cacheMisses,
        s.totalQueries,
        details,
      );
    }
    return {
      consistent: report.consistent,
      converged: report.converged,
      issues: report.issues,
      healed: report.healed,
      autoHealEnabled: autoHeal,
      totalViolations: this.consistencyViolations,
      totalHeals: this.autoHealCount,
      lastCheck: now,
      currentState: this.currentState(),
    };
  }

  snapshot(): StatsSnapshot {
    const s = this.state;
    return {
      cacheHits: s.cacheHits,
      cacheMisses: s.cacheMisses,
      cacheExpired: s.cacheExpired,
      totalQueries: s.totalQueries,
      queriesWhileUninitialized: s.queriesWhileUninitialized,
      costSavedUsd: costSavedUsd(s),
      expiredEntriesCleaned: s.expiredEntriesCleaned,
      cleanupRuns: s.cleanupRuns,
      cleanupErrors: s.cleanupErrors,
      consistencyViolations: this.consistencyViolations,
      autoHealCount: this.autoHealCount,
      lastConsistencyCheck: this.lastConsistencyCheck,
      uptimeSeconds: (this.clock() - this.startedAt) / 1000,
    };
  }

  reset(): void {
    const s = this.state;
    for (const field of INTEGER_COUNTERS) s[field] = 0;
    s.costBase = ZERO;
    s.costHits = 0;
    this.consistencyViolations = 0;
    this.autoHealCount = 0;
    this.lastConsistencyCheck = null;
    this.startedAt = this.clock();
    this.log.clear();
    this.#event(EventCode.reset);
  }

  /** Replaces every counter with the (already schema-checked) snapshot's; the event log is kept. */
  load(snapshot: ParsedSnapshot): void {
    const s = this.state;
    // -0 passes every rule but prints as 0 and does not survive JSON: load it as 0.
    for (const field of INTEGER_COUNTERS) s[field] = snapshot[field] === 0 ? 0 : snapshot[field];
    s.costBase = decimalFromNumber(snapshot.costSavedUsd);
    s.costHits = 0;
    this.consistencyViolations = snapshot.consistencyViolations;
    this.autoHealCount = snapshot.autoHealCount;
    this.lastConsistencyCheck = snapshot.lastConsistencyCheck;
  }
}
