import type { ConsistencyResult } from './core.js';
import {
  type PromClientRegistry,
  type RegisterWithOptions,
  registerTrackers,
  type UnregisterFn,
} from './prom-bridge.js';
import { formatExposition } from './prometheus.js';
import { CacheStatisticsTracker, type TrackerOptions, type ValidateConsistencyOptions } from './tracker.js';

/** The content type of {@link StatsRegistry.metrics} for an HTTP response. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Named trackers, one per cache, and a Prometheus view of all of them.
 *
 * @example
 * ```ts
 * const registry = new StatsRegistry();
 * await registry.tracker('embeddings').recordHit();
 * registry.metrics(); // '# HELP cache_hits_total …\ncache_hits_total{cache="embeddings"} 1\n…'
 * ```
 */
export class StatsRegistry {
  readonly #trackers = new Map<string, CacheStatisticsTracker>();

  /**
   * The tracker named `name`, created with `options` on first use. A later
   * call with the same name returns the same tracker and never throws (safe
   * under hot reload); its `options` are then not used.
   *
   * @throws TypeError when `name` is not a non-empty string.
   */
  tracker(name: string, options?: TrackerOptions): CacheStatisticsTracker {
    if (typeof name !== 'string' || name === '') {
      throw new TypeError(
        `StatsRegistry.tracker: "name" must be a non-empty string, got ${JSON.stringify(name)}`,
      );
    }
    let tracker = this.#trackers.get(name);
    if (tracker === undefined) {
      tracker = new CacheStatisticsTracker(options);
      this.#trackers.set(name, tracker);
    }
    return tracker;
  }

  /** The tracker named `name`, or `undefined` when there is none (never creates one). */
  get(name: string): CacheStatisticsTracker | undefined {
    return this.#trackers.get(name);
  }

  /** Names of every tracker, in creation order. */
  names(): string[] {
    return [...this.#trackers.keys()];
  }

  /**
   * Every tracker in the Prometheus text exposition format 0.0.4: `# HELP` and
   * `# TYPE` once per family, one sample per cache labelled `cache="<name>"`.
   * Counters end in `_total`; `cache_hit_rate` and `cache_expired_rate` are
   * gauges. Serve it with {@link PROMETHEUS_CONTENT_TYPE}. Empty when there are no trackers.
   */
  metrics(): string {
    return formatExposition(this.#trackers);
  }

  /**
   * Adds every tracker's metric families to a prom-client registry, as
   * collectors that read the counters when the registry is scraped (trackers
   * created later show up too). Works with both content types of prom-client
   * (Prometheus 0.0.4 and OpenMetrics); the registry's other metrics, default
   * metrics included, are left as they are. prom-client itself is never
   * loaded by this package: pass your own `Registry` (or prom-client's global
   * `register`).
   *
   * Registering the same StatsRegistry again (a hot reload) replaces its
   * earlier collectors instead of throwing.
   *
   * @example
   * ```ts
   * import { collectDefaultMetrics, Registry } from 'prom-client';
   * const prom = new Registry();
   * collectDefaultMetrics({ register: prom });
   * const unregister = stats.registerWith(prom, { prefix: 'myapp_', labels: { service: 'api' } });
   * await prom.metrics(); // … myapp_cache_hits_total{service="api",cache="embeddings"} 1 …
   * unregister();
   * ```
   * @returns a function that removes exactly the metrics this call added.
   * @throws TypeError on a bad registry, prefix or label; Error when a metric
   *   name is already taken by another metric (nothing is registered then).
   */
  registerWith(promRegistry: PromClientRegistry, options: RegisterWithOptions = {}): UnregisterFn {
    return registerTrackers(this.#trackers, promRegistry, options);
  }

  /** Runs `validateConsistency` on every tracker; results keyed by name. */
  async validateAll(options?: ValidateConsistencyOptions): Promise<Record<string, ConsistencyResult>> {
    const entries: [string, ConsistencyResult][] = [];
    for (const [name, tracker] of this.#trackers)
      entries.push([name, await tracker.validateConsistency(options)]);
    return Object.fromEntries(entries);
  }
}
