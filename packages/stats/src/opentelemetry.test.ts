import type { Meter } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { StatsRegistry } from './index.js';

// The README's OpenTelemetry sample, as written there: the same counters as
// ObservableCounters whose callbacks read the trackers at collection time.
function observeCacheStats(meter: Meter, stats: StatsRegistry): void {
  const hits = meter.createObservableCounter('cache.hits', {
    description: 'Queries answered from the cache.',
  });
  const misses = meter.createObservableCounter('cache.misses', { description: 'Queries the cache missed.' });
  const saved = meter.createObservableCounter('cache.cost_saved', { unit: 'USD' });
  meter.addBatchObservableCallback(
    (result) => {
      for (const cache of stats.names()) {
        const tracker = stats.get(cache);
        if (tracker === undefined) continue;
        result.observe(hits, tracker.cacheHits, { cache });
        result.observe(misses, tracker.cacheMisses, { cache });
        result.observe(saved, tracker.costSavedUsd, { cache });
      }
    },
    [hits, misses, saved],
  );
}

let provider: MeterProvider | undefined;
afterEach(async () => {
  await provider?.shutdown();
  provider = undefined;
});

describe('the trackers through OpenTelemetry ObservableCounters (README sample)', () => {
  it('exports the counters read at collection time, one point per cache', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    // A long interval: the test collects by forceFlush, never by the timer.
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    provider = new MeterProvider({ readers: [reader] });
    const stats = new StatsRegistry();
    await stats.tracker('embeddings', { costPerInference: 0.25 }).recordHit();
    await stats.tracker('embeddings').recordHit();
    await stats.tracker('llm').recordMiss();
    observeCacheStats(provider.getMeter('@core/stats'), stats);

    const collect = async () => {
      exporter.reset();
      await reader.forceFlush();
      const points = new Map<string, number>();
      for (const resource of exporter.getMetrics()) {
        for (const scope of resource.scopeMetrics) {
          for (const metric of scope.metrics) {
            for (const point of metric.dataPoints) {
              points.set(
                `${metric.descriptor.name}{${String(point.attributes.cache)}}`,
                point.value as number,
              );
            }
          }
        }
      }
      return points;
    };
    let points = await collect();
    expect(points.get('cache.hits{embeddings}')).toBe(2);
    expect(points.get('cache.misses{llm}')).toBe(1);
    expect(points.get('cache.cost_saved{embeddings}')).toBe(0.5);

    await stats.tracker('llm').recordHit();
    points = await collect();
    expect(points.get('cache.hits{llm}')).toBe(1);
    expect(points.get('cache.hits{embeddings}')).toBe(2);
  });
});
