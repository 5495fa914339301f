import { StatsMetricConflictError } from './errors.js';
import { METRIC_FAMILIES } from './prometheus.js';
import type { CacheStatisticsTracker } from './tracker.js';

/**
 * The part of a prom-client `Registry` that {@link StatsRegistry.registerWith}
 * uses (prom-client 13 – 15). Typed structurally so that @core/stats never
 * needs prom-client — not at run time and not for its types: a prom-client
 * `Registry` (either content type) fits as it is.
 */
export interface PromClientRegistry {
  /** Adds a metric; prom-client throws when the name is taken by another one. */
  registerMetric(metric: never): void;
  /** The metric registered under `name`, if any. */
  getSingleMetric(name: string): unknown;
  /** Drops the metric registered under `name`. */
  removeSingleMetric(name: string): void;
}

/** Options of {@link StatsRegistry.registerWith}. */
export interface RegisterWithOptions {
  /**
   * Prepended to every metric name, e.g. `myapp_` gives
   * `myapp_cache_hits_total`. Default: none.
   */
  readonly prefix?: string | undefined;
  /**
   * Constant labels added to every sample, e.g. `{ service: 'api' }`, next to
   * the `cache` label (which they may not replace). Values are escaped by
   * prom-client. Default: none.
   */
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

/** Removes what {@link StatsRegistry.registerWith} added; calling it again does nothing. */
export type UnregisterFn = () => void;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
// Marks our collectors across copies of this package (a hot-reloaded module
// is a new copy), so a conflict can say whose metric is in the way.
const COLLECTOR_BRAND = Symbol.for('@core/stats/prom-collector');
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** What prom-client's Registry reads from a metric when it renders or aggregates. */
interface PromSample {
  value: number;
  labels: Record<string, string>;
}

/**
 * One metric family as a prom-client collector: the object prom-client's
 * Registry expects of a metric (`name`, `help`, `type`, `aggregator`,
 * `get()`, `reset()`), reading the trackers' counters when it is scraped.
 * Duck-typed on purpose: building it with prom-client's own `Counter` would
 * mean loading prom-client here (it is an optional peer), and a `Counter`
 * cannot go down, which a reset or a heal of a tracker can make it do.
 */
class TrackerFamilyCollector {
  /** prom-client renames counters for OpenMetrics (`x_total` → `x`), so this must stay writable. */
  name: string;
  readonly [COLLECTOR_BRAND] = true;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  // In a cluster, per-worker counts add up; rates have no meaningful sum.
  readonly aggregator: 'sum' | 'average';
  readonly #family: (typeof METRIC_FAMILIES)[number];
  readonly #trackers: ReadonlyMap<string, CacheStatisticsTracker>;
  readonly #labels: Readonly<Record<string, string>>;

  constructor(
    name: string,
    family: (typeof METRIC_FAMILIES)[number],
    trackers: ReadonlyMap<string, CacheStatisticsTracker>,
    labels: Readonly<Record<string, string>>,
  ) {
    this.name = name;
    this.help = family.help;
    this.type = family.type;
    this.aggregator = family.type === 'counter' ? 'sum' : 'average';
    this.#family = family;
    this.#trackers = trackers;
    this.#labels = labels;
  }

  /** The current value of every tracker, read now (scrape time). */
  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: PromSample[];
  }> {
    const values: PromSample[] = [];
    for (const [cache, tracker] of this.#trackers) {
      values.push({ value: this.#family.value(tracker), labels: { ...this.#labels, cache } });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /**
   * Called by `registry.resetMetrics()`. The values belong to the trackers,
   * which the owner of the prom-client registry has no business zeroing.
   */
  reset(): void {}
}

function checkOptions(options: RegisterWithOptions): {
  prefix: string;
  labels: Readonly<Record<string, string>>;
} {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`StatsRegistry.registerWith: options must be an object, got ${String(options)}`);
  }
  const prefix = options.prefix ?? '';
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_NAME.test(prefix))) {
    throw new TypeError(
      `StatsRegistry.registerWith: "prefix" must be a metric name prefix matching ${METRIC_NAME}, got ${JSON.stringify(prefix)}`,
    );
  }
  const labels = options.labels ?? {};
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    throw new TypeError('StatsRegistry.registerWith: "labels" must be an object of label name → string');
  }
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) {
      throw new TypeError(
        `StatsRegistry.registerWith: label name ${JSON.stringify(name)} is not a valid Prometheus label name`,
      );
    }
    if (name === 'cache') {
      throw new TypeError(
        'StatsRegistry.registerWith: the "cache" label names the tracker and cannot be set in "labels"',
      );
    }
    if (typeof value !== 'string') {
      throw new TypeError(
        `StatsRegistry.registerWith: label "${name}" must be a string, got ${typeof value}`,
      );
    }
  }
  return { prefix, labels: Object.freeze({ ...labels }) };
}

/** Collectors of the same trackers (same prefix) registered earlier: replaced, not a conflict. */
const registeredBy = new WeakMap<object, ReadonlyMap<string, CacheStatisticsTracker>>();

/**
 * Registers one collector per metric family of `trackers` with a prom-client
 * registry, all or none. Implementation of {@link StatsRegistry.registerWith}.
 */
export function registerTrackers(
  trackers: ReadonlyMap<string, CacheStatisticsTracker>,
  registry: PromClientRegistry,
  options: RegisterWithOptions,
): UnregisterFn {
  if (
    registry === null ||
    typeof registry !== 'object' ||
    typeof registry.registerMetric !== 'function' ||
    typeof registry.getSingleMetric !== 'function' ||
    typeof registry.removeSingleMetric !== 'function'
  ) {
    throw new TypeError(
      'StatsRegistry.registerWith: expected a prom-client Registry (registerMetric, getSingleMetric, removeSingleMetric)',
    );
  }
  const { prefix, labels } = checkOptions(options);
  const collectors = METRIC_FAMILIES.map(
    (family) => new TrackerFamilyCollector(`${prefix}${family.name}`, family, trackers, labels),
  );
  // Check every name before adding any, so a conflict leaves the registry as it was.
  for (const collector of collectors) {
    const existing = registry.getSingleMetric(collector.name);
    if (existing !== undefined && registeredBy.get(existing as object) !== trackers) {
      const ours = typeof existing === 'object' && existing !== null && COLLECTOR_BRAND in existing;
      throw new StatsMetricConflictError(
        collector.name,
        ours
          ? ', registered by another StatsRegistry: call the unregister function that registration returned (e.g. in a hot-reload dispose hook), or pass a different "prefix"'
          : '; pass a "prefix" to keep the cache metrics apart',
      );
    }
  }
  for (const collector of collectors) {
    // The same StatsRegistry registered again (a hot reload of the wiring
    // code): the newer collectors take over instead of prom-client throwing.
    registry.removeSingleMetric(collector.name);
    registeredBy.set(collector, trackers);
    registry.registerMetric(collector as never);
  }
  const names = collectors.map((c) => c.name);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    collectors.forEach((collector, i) => {
      const name = names[i] as string;
      // Only our own collector: a metric registered under that name later stays.
      if (registry.getSingleMetric(name) === collector) registry.removeSingleMetric(name);
    });
  };
}
