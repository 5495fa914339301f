import { type ConsistencyResult, StatsCore } from './core.js';
import { resolveCostPerInference } from './cost.js';
import type { StatsEvent } from './event-log.js';
import { parseSnapshot, type StatsSnapshot, type StatsSnapshotInput } from './snapshot.js';

/** Options of {@link CacheStatisticsTracker}. */
export interface TrackerOptions {
  /**
   * US dollars one inference costs, added to `costSavedUsd` per saving hit.
   * Default: env `ML_INFERENCE_COST_USD` when set, else 0.002. Finite and >= 0.
   */
  readonly costPerInference?: number | undefined;
  /** How many of the newest events the log keeps (integer 1 – 1,000,000). Default 100. */
  readonly maxEventLogSize?: number | undefined;
  /** Source of timestamps, epoch milliseconds. Default `Date.now`. */
  readonly clock?: (() => number) | undefined;
}

/** Options of {@link CacheStatisticsTracker.recordHit}. */
export interface RecordHitOptions {
  /** Add `costPerInference` to `costSavedUsd`. Default true. */
  readonly addCostSavings?: boolean | undefined;
}

/** Options of {@link CacheStatisticsTracker.recordMiss}. At most one may be true. */
export interface RecordMissOptions {
  /** The entry was there but had expired (counts in `cacheExpired`). Default false. */
  readonly isExpired?: boolean | undefined;
  /** The cache was not initialized yet (counts in `queriesWhileUninitialized`). Default false. */
  readonly isUninitialized?: boolean | undefined;
}

/** Options of {@link CacheStatisticsTracker.recordCleanup}. */
export interface RecordCleanupOptions {
  /** Whether the cleanup run succeeded. Default true. */
  readonly success?: boolean | undefined;
}

/** Options of {@link CacheStatisticsTracker.validateConsistency}. */
export interface ValidateConsistencyOptions {
  /** Heal violations in place, to a fixpoint. Default true. */
  readonly autoHeal?: boolean | undefined;
}

const DEFAULT_MAX_EVENT_LOG_SIZE = 100;

function flag(method: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new TypeError(`${method}: "${name}" must be a boolean, got ${typeof value}`);
  }
  return value;
}

function optionsObject<T>(method: string, options: T | undefined): T | Record<string, never> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(
      `${method}: options must be an object, got ${options === null ? 'null' : typeof options}`,
    );
  }
  return options;
}

/**
 * Cache statistics (hits, misses, expirations, cleanups, cost saved) whose
 * counters obey five invariants and heal themselves when they drift, with a
 * rolling event log.
 *
 * Concurrency: every update is synchronous code between two awaits, and Node
 * runs one piece of JavaScript at a time, so an update is atomic with respect
 * to every other caller: thousands of un-awaited `recordHit()`s lose nothing,
 * and a snapshot never sees half an update. A mutex would only add an await
 * per record and protect nothing. The methods are async for API parity and so callers can treat
 * a tracker like any other async resource; each settles immediately.
 *
 * @example
 * ```ts
 * const stats = new CacheStatisticsTracker({ costPerInference: 0.1 });
 * await stats.recordHit();
 * await stats.recordMiss({ isExpired: true });
 * stats.costSavedUsd; // 0.1
 * const { consistent, healed } = await stats.validateConsistency();
 * ```
 */
export class CacheStatisticsTracker {
  readonly #core: StatsCore;

  /**
   * @throws TypeError / RangeError for a bad option.
   * @throws StatsConfigurationError when `ML_INFERENCE_COST_USD` is set to something other than a number >= 0.
   */
  constructor(options: TrackerOptions = {}) {
    const {
      costPerInference,
      maxEventLogSize = DEFAULT_MAX_EVENT_LOG_SIZE,
      clock = Date.now,
    } = optionsObject('CacheStatisticsTracker', options) as TrackerOptions;
    if (typeof clock !== 'function') {
      throw new TypeError(
        `CacheStatisticsTracker: "clock" must be a function returning epoch ms, got ${typeof clock}`,
      );
    }
    this.#core = new StatsCore(
      resolveCostPerInference(costPerInference, process.env),
      maxEventLogSize,
      clock,
    );
  }

  /**
   * A new tracker holding a persisted snapshot's counters (see {@link CacheStatisticsTracker.restore}).
   *
   * @throws StatsSnapshotError when the snapshot has a wrong type or shape, naming the field.
   */
  static async fromSnapshot(
    snapshot: StatsSnapshotInput,
    options: TrackerOptions = {},
  ): Promise<CacheStatisticsTracker> {
    const tracker = new CacheStatisticsTracker(options);
    await tracker.restore(snapshot);
    return tracker;
  }

  /** Counts a hit: hits+1, total+1, and (unless `addCostSavings: false`) cost saved + `costPerInference`. */
  async recordHit(options?: RecordHitOptions): Promise<void> {
    const { addCostSavings = true } = optionsObject('recordHit', options);
    this.#core.hit(flag('recordHit', 'addCostSavings', addCostSavings));
  }

  /**
   * Counts a miss: misses+1, total+1; an expired miss also counts in
   * `cacheExpired`, an uninitialized one in `queriesWhileUninitialized`.
   *
   * @throws TypeError (as a rejection) when both `isExpired` and `isUninitialized` are true.
   */
  async recordMiss(options?: RecordMissOptions): Promise<void> {
    const { isExpired = false, isUninitialized = false } = optionsObject('recordMiss', options);
    const expired = flag('recordMiss', 'isExpired', isExpired);
    const uninitialized = flag('recordMiss', 'isUninitialized', isUninitialized);
    if (expired && uninitialized) {
      throw new TypeError(
        'recordMiss: "isExpired" and "isUninitialized" are mutually exclusive miss categories; pass at most one',
      );
    }
    this.#core.miss(expired, uninitialized);
  }

  /**
   * Counts a cleanup run: cleanupRuns+1; on success `entriesCleaned` is added
   * to `expiredEntriesCleaned`, on failure `cleanupErrors`+1.
   *
   * @throws RangeError (as a rejection) when `entriesCleaned` is not a non-negative integer.
   */
  async recordCleanup(entriesCleaned: number, options?: RecordCleanupOptions): Promise<void> {
    if (typeof entriesCleaned !== 'number') {
      throw new TypeError(`recordCleanup: "entriesCleaned" must be a number, got ${typeof entriesCleaned}`);
    }
    if (!Number.isSafeInteger(entriesCleaned) || entriesCleaned < 0) {
      throw new RangeError(`recordCleanup: "entriesCleaned" must be an integer >= 0, got ${entriesCleaned}`);
    }
    const { success = true } = optionsObject('recordCleanup', options);
    this.#core.cleanup(entriesCleaned, flag('recordCleanup', 'success', success));
  }

  /** Counts a cleanup error: cleanupErrors+1. */
  async recordCleanupError(): Promise<void> {
    this.#core.cleanupError();
  }

  /** Every counter, the bookkeeping and `uptimeSeconds`, taken at one instant. */
  async getSnapshot(): Promise<StatsSnapshot> {
    return this.#core.snapshot();
  }

  /**
   * Checks the five invariants and, with `autoHeal` (default true), heals
   * every violation to a fixpoint. A call that finds an issue adds 1 to
   * `consistencyViolations` and logs a `consistency_violation` event; each
   * field change adds 1 to `autoHealCount`.
   */
  async validateConsistency(options?: ValidateConsistencyOptions): Promise<ConsistencyResult> {
    const { autoHeal = true } = optionsObject('validateConsistency', options);
    return this.#core.validate(flag('validateConsistency', 'autoHeal', autoHeal));
  }

  /** Everything back to zero (bookkeeping and uptime too), the event log cleared, then one `reset` event. */
  async reset(): Promise<void> {
    this.#core.reset();
  }

  /**
   * Replaces every counter with a persisted snapshot's (what `getSnapshot()`
   * returned). The bookkeeping fields are optional (default 0 / `null`);
   * `uptimeSeconds` is ignored. Values that break an invariant are loaded
   * as they are, for `validateConsistency` to report and heal. The event log is kept.
   *
   * @throws StatsSnapshotError when the snapshot has a wrong type or shape, naming the field.
   */
  async restore(snapshot: StatsSnapshotInput): Promise<void> {
    this.#core.load(parseSnapshot(snapshot));
  }

  /**
   * The newest `count` events (default 10), oldest first.
   *
   * @throws RangeError when `count` is not an integer >= 0.
   */
  getRecentEvents(count = 10): StatsEvent[] {
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`getRecentEvents: "count" must be an integer >= 0, got ${String(count)}`);
    }
    return this.#core.log.recent(count);
  }

  /** US dollars one inference costs (the resolved option / env / default). */
  get costPerInference(): number {
    return this.#core.costPerInference;
  }
  /** How many events the log keeps. */
  get maxEventLogSize(): number {
    return this.#core.log.capacity;
  }
  /** Queries answered from the cache. */
  get cacheHits(): number {
    return this.#core.state.cacheHits;
  }
  /** Queries the cache could not answer. */
  get cacheMisses(): number {
    return this.#core.state.cacheMisses;
  }
  /** Misses because the entry had expired. */
  get cacheExpired(): number {
    return this.#core.state.cacheExpired;
  }
  /** Every query: hits + misses. */
  get totalQueries(): number {
    return this.#core.state.totalQueries;
  }
  /** Misses because the cache was not initialized yet. */
  get queriesWhileUninitialized(): number {
    return this.#core.state.queriesWhileUninitialized;
  }
  /** US dollars saved by hits: the exact decimal sum, as the nearest Number (3 × 0.1 is exactly 0.3). */
  get costSavedUsd(): number {
    return this.#core.costSavedUsd;
  }
  /** Expired entries removed by successful cleanups. */
  get expiredEntriesCleaned(): number {
    return this.#core.state.expiredEntriesCleaned;
  }
  /** Cleanup runs, successful or not. */
  get cleanupRuns(): number {
    return this.#core.state.cleanupRuns;
  }
  /** Failed cleanups. */
  get cleanupErrors(): number {
    return this.#core.state.cleanupErrors;
  }
  /** `validateConsistency` calls that found an issue. */
  get consistencyViolations(): number {
    return this.#core.consistencyViolations;
  }
  /** Fields changed by healing. */
  get autoHealCount(): number {
    return this.#core.autoHealCount;
  }
  /** When `validateConsistency` last ran (epoch ms), `null` if never since creation or reset. */
  get lastConsistencyCheck(): number | null {
    return this.#core.lastConsistencyCheck;
  }
  /** Seconds since the tracker was created or last reset. */
  get uptimeSeconds(): number {
    return (this.#core.clock() - this.#core.startedAt) / 1000;
  }
}
