import { rate } from './rate.js';
import type { CacheStatisticsTracker } from './tracker.js';

interface MetricFamily {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly help: string;
  readonly value: (tracker: CacheStatisticsTracker) => number;
}

/** The metric families of a tracker, in exposition order. Counters end in `_total`. */
export const METRIC_FAMILIES: readonly MetricFamily[] = [
  {
    name: 'cache_hits_total',
    type: 'counter',
    help: 'Queries answered from the cache.',
    value: (t) => t.cacheHits,
  },
  {
    name: 'cache_misses_total',
    type: 'counter',
    help: 'Queries the cache could not answer.',
    value: (t) => t.cacheMisses,
  },
  {
    name: 'cache_expired_misses_total',
    type: 'counter',
    help: 'Misses because the entry had expired.',
    value: (t) => t.cacheExpired,
  },
  {
    name: 'cache_queries_total',
    type: 'counter',
    help: 'Every query (hits + misses).',
    value: (t) => t.totalQueries,
  },
  {
    name: 'cache_uninitialized_queries_total',
    type: 'counter',
    help: 'Misses because the cache was not initialized yet.',
    value: (t) => t.queriesWhileUninitialized,
  },
  {
    name: 'cache_cost_saved_usd_total',
    type: 'counter',
    help: 'US dollars of inference saved by cache hits.',
    value: (t) => t.costSavedUsd,
  },
  {
    name: 'cache_expired_entries_cleaned_total',
    type: 'counter',
    help: 'Expired entries removed by successful cleanups.',
    value: (t) => t.expiredEntriesCleaned,
  },
  {
    name: 'cache_cleanup_runs_total',
    type: 'counter',
    help: 'Cleanup runs, successful or not.',
    value: (t) => t.cleanupRuns,
  },
  {
    name: 'cache_cleanup_errors_total',
    type: 'counter',
    help: 'Failed cleanups.',
    value: (t) => t.cleanupErrors,
  },
  {
    name: 'cache_consistency_violations_total',
    type: 'counter',
    help: 'Consistency checks that found a broken invariant.',
    value: (t) => t.consistencyViolations,
  },
  {
    name: 'cache_auto_heals_total',
    type: 'counter',
    help: 'Counter fields changed by self-healing.',
    value: (t) => t.autoHealCount,
  },
  {
    name: 'cache_hit_rate',
    type: 'gauge',
    help: 'Hits / (hits + misses); 0 when there were no queries.',
    value: (t) => rate(t.cacheHits, t.cacheHits + t.cacheMisses),
  },
  {
    name: 'cache_expired_rate',
    type: 'gauge',
    help: 'Expired misses / (hits + expired misses); 0 when both are 0.',
    value: (t) => rate(t.cacheExpired, t.cacheHits + t.cacheExpired),
  },
];

/** Escapes a label value for the text format: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A sample value as the text format spells it (`NaN`, `+Inf`, `-Inf` included). */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/**
 * Prometheus text exposition format 0.0.4 of named trackers: each family's
 * `# HELP` and `# TYPE` once, then one sample per tracker labelled `cache="<name>"`.
 */
export function formatExposition(trackers: ReadonlyMap<string, CacheStatisticsTracker>): string {
  if (trackers.size === 0) return '';
  const lines: string[] = [];
  const labels = [...trackers.keys()].map((name) => `{cache="${escapeLabelValue(name)}"}`);
  const instances = [...trackers.values()];
  for (const family of METRIC_FAMILIES) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (let i = 0; i < instances.length; i++) {
      lines.push(
        `${family.name}${labels[i]} ${formatSampleValue(family.value(instances[i] as CacheStatisticsTracker))}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
