import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Counter, collectDefaultMetrics, Gauge, type OpenMetricsContentType, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { type CacheStatisticsTracker, StatsRegistry } from './index.js';
import { METRIC_FAMILIES } from './prometheus.js';

const OPENMETRICS = Registry.OPENMETRICS_CONTENT_TYPE;

/** `name{labels} value` lines of a scrape, as [name+labels, value]. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

async function statsWithTraffic(): Promise<StatsRegistry> {
  const stats = new StatsRegistry();
  const embeddings = stats.tracker('embeddings', { costPerInference: 0.5 });
  await embeddings.recordHit();
  await embeddings.recordHit();
  await embeddings.recordMiss({ isExpired: true });
  await stats.tracker('llm "big"\n').recordMiss();
  return stats;
}

describe('StatsRegistry#registerWith (real prom-client Registry)', () => {
  it('adds the trackers next to default and own metrics, reading values at scrape time', async () => {
    const prom = new Registry();
    collectDefaultMetrics({ register: prom });
    const own = new Counter({ name: 'app_requests_total', help: 'Requests.', registers: [prom] });
    own.inc(7);
    const before = (await prom.getMetricsAsJSON()).map((m) => m.name).sort();
    const stats = await statsWithTraffic();
    stats.registerWith(prom);

    let text = await prom.metrics();
    let values = samples(text);
    expect(values.get('app_requests_total')).toBe(7);
    expect(values.has('process_cpu_user_seconds_total')).toBe(true);
    expect(text).toContain('# HELP cache_hits_total Queries answered from the cache.');
    expect(text).toContain('# TYPE cache_hits_total counter');
    expect(text).toContain('# TYPE cache_hit_rate gauge');
    expect(values.get('cache_hits_total{cache="embeddings"}')).toBe(2);
    expect(values.get('cache_expired_misses_total{cache="embeddings"}')).toBe(1);
    expect(values.get('cache_cost_saved_usd_total{cache="embeddings"}')).toBe(1);
    expect(values.get('cache_hit_rate{cache="embeddings"}')).toBeCloseTo(2 / 3, 12);
    // The label value is escaped by prom-client, as the format requires.
    expect(values.get('cache_misses_total{cache="llm \\"big\\"\\n"}')).toBe(1);

    // Scrape time: a hit after registering and a tracker created later both show.
    await stats.tracker('embeddings').recordHit();
    await stats.tracker('late').recordHit();
    values = samples(await prom.metrics());
    expect(values.get('cache_hits_total{cache="embeddings"}')).toBe(3);
    expect(values.get('cache_hits_total{cache="late"}')).toBe(1);

    // Nothing of the registry's own was replaced or changed.
    const after = (await prom.getMetricsAsJSON()).map((m) => m.name);
    for (const name of before) expect(after).toContain(name);
    text = await prom.metrics();
    expect(samples(text).get('app_requests_total')).toBe(7);
  });

  it('works with the OpenMetrics content type', async () => {
    // (prom-client's types omit the constructor argument; setContentType is the typed way.)
    const prom = new Registry<OpenMetricsContentType>();
    prom.setContentType(OPENMETRICS);
    collectDefaultMetrics({ register: prom });
    const stats = await statsWithTraffic();
    stats.registerWith(prom, { labels: { service: 'api' } });
    const text = await prom.metrics();
    expect(text.endsWith('# EOF\n')).toBe(true);
    expect(text.match(/^# EOF$/gm)).toHaveLength(1);
    // OpenMetrics: the family is named without _total, its samples with it.
    expect(text).toContain('# TYPE cache_hits counter');
    expect(text).toContain('# HELP cache_hits Queries answered from the cache.');
    const values = samples(text);
    expect(values.get('cache_hits_total{service="api",cache="embeddings"}')).toBe(2);
    expect(values.get('cache_hit_rate{service="api",cache="embeddings"}')).toBeCloseTo(2 / 3, 12);
    expect(values.has('process_cpu_user_seconds_total')).toBe(true);
    // Every family once, and no blank line inside (OpenMetrics has none).
    const types = text.match(/^# TYPE \S+/gm) ?? [];
    expect(new Set(types).size).toBe(types.length);
    expect(text).not.toMatch(/\n\n/);
    // A second scrape is the same (prom-client renames counters in place).
    const cacheOnly = (m: Map<string, number>) => [...m].filter(([k]) => k.startsWith('cache_'));
    expect(cacheOnly(samples(await prom.metrics()))).toEqual(cacheOnly(values));
    expect(cacheOnly(values)).toHaveLength(26);
  });

  it('renders byte for byte what prom-client Counter/Gauge objects holding the same values render', async () => {
    const stats = await statsWithTraffic();
    for (const contentType of [Registry.PROMETHEUS_CONTENT_TYPE, OPENMETRICS] as const) {
      const bridged = new Registry<OpenMetricsContentType>();
      const native = new Registry<OpenMetricsContentType>();
      bridged.setContentType(contentType as OpenMetricsContentType);
      native.setContentType(contentType as OpenMetricsContentType);
      stats.registerWith(bridged);
      for (const family of METRIC_FAMILIES) {
        const config = { name: family.name, help: family.help, labelNames: ['cache'], registers: [native] };
        const metric = family.type === 'counter' ? new Counter(config) : new Gauge(config);
        for (const cache of stats.names()) {
          const value = family.value(stats.get(cache) as CacheStatisticsTracker);
          if (metric instanceof Counter) metric.inc({ cache }, value);
          else metric.set({ cache }, value);
        }
      }
      expect(await bridged.metrics()).toBe(await native.metrics());
    }
  });

  it('prefix and constant labels', async () => {
    const prom = new Registry();
    const stats = await statsWithTraffic();
    stats.registerWith(prom, { prefix: 'myapp_', labels: { service: 'api', zone: 'a' } });
    const values = samples(await prom.metrics());
    expect(values.get('myapp_cache_hits_total{service="api",zone="a",cache="embeddings"}')).toBe(2);
    expect([...values.keys()].every((k) => k.startsWith('myapp_'))).toBe(true);
  });

  it('the unregister function removes exactly what it added, once', async () => {
    const prom = new Registry();
    collectDefaultMetrics({ register: prom });
    const names = () => prom.getMetricsAsArray().length;
    const count = names();
    const stats = await statsWithTraffic();
    const unregister = stats.registerWith(prom);
    expect(names()).toBe(count + 13);
    unregister();
    expect(names()).toBe(count);
    expect(await prom.metrics()).not.toContain('cache_');
    expect(await prom.metrics()).toContain('process_cpu_user_seconds_total');

    // A metric registered under one of those names afterwards is not ours to remove.
    const theirs = new Counter({ name: 'cache_hits_total', help: 'Theirs.', registers: [prom] });
    unregister();
    expect(prom.getSingleMetric('cache_hits_total')).toBe(theirs);
  });

  it('a name taken by another metric is an error and registers nothing', async () => {
    const prom = new Registry();
    new Counter({ name: 'cache_misses_total', help: 'Someone else.', registers: [prom] });
    const stats = await statsWithTraffic();
    expect(() => stats.registerWith(prom)).toThrow(/already has a metric named cache_misses_total.*prefix/);
    expect(prom.getMetricsAsArray().map((m) => m.name)).toEqual(['cache_misses_total']);
    // With a prefix it fits.
    stats.registerWith(prom, { prefix: 'stats_' });
    expect(samples(await prom.metrics()).get('stats_cache_misses_total{cache="embeddings"}')).toBe(1);
  });

  it('registering the same StatsRegistry again replaces its collectors (hot reload) without duplicates', async () => {
    const prom = new Registry();
    const stats = await statsWithTraffic();
    const first = stats.registerWith(prom);
    stats.registerWith(prom);
    const text = await prom.metrics();
    expect(text.match(/^cache_hits_total\{cache="embeddings"\} /gm)).toHaveLength(1);
    // The stale unregister function leaves the newer registration alone.
    first();
    expect(samples(await prom.metrics()).get('cache_hits_total{cache="embeddings"}')).toBe(2);
    // A different StatsRegistry with the same names is a real conflict.
    expect(() => new StatsRegistry().registerWith(prom)).toThrow(
      /already has a metric named cache_hits_total, registered by another StatsRegistry: call the unregister function/,
    );
  });

  it('resetMetrics() of the prom-client registry does not zero the trackers', async () => {
    const prom = new Registry();
    const stats = await statsWithTraffic();
    stats.registerWith(prom);
    prom.resetMetrics();
    expect(stats.tracker('embeddings').cacheHits).toBe(2);
    expect(samples(await prom.metrics()).get('cache_hits_total{cache="embeddings"}')).toBe(2);
  });

  it('rejects a bad registry, prefix or label with a TypeError', () => {
    const stats = new StatsRegistry();
    const prom = new Registry();
    // @ts-expect-error not a registry
    expect(() => stats.registerWith({})).toThrow(TypeError);
    expect(() => stats.registerWith(prom, { prefix: '9x' })).toThrow(/"prefix"/);
    expect(() => stats.registerWith(prom, { labels: { 'bad-name': 'x' } })).toThrow(/label name/);
    expect(() => stats.registerWith(prom, { labels: { __reserved: 'x' } })).toThrow(/label name/);
    expect(() => stats.registerWith(prom, { labels: { cache: 'x' } })).toThrow(/"cache" label/);
    // @ts-expect-error label values are strings
    expect(() => stats.registerWith(prom, { labels: { n: 1 } })).toThrow(/must be a string/);
    expect(prom.getMetricsAsArray()).toHaveLength(0);
  });

  // A whole Node + tsx start-up: 12 s once when CI started every package's suite at the same time.
  it('does not load prom-client unless the caller does', { timeout: 60_000 }, () => {
    // A fresh process that imports @core/stats from source and uses it; then
    // imports prom-client itself, to show the check would notice.
    const script = `
      import { createRequire } from 'node:module';
      const { StatsRegistry } = await import('@core/stats');
      const stats = new StatsRegistry();
      await stats.tracker('c').recordHit();
      stats.metrics();
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('prom-client'));
      const before = loaded();
      await import('prom-client');
      console.log(JSON.stringify({ before, after: loaded() }));
    `;
    const cwd = fileURLToPath(new URL('..', import.meta.url));
    const result = spawnSync(
      process.execPath,
      ['--conditions=@core/source', '--import', 'tsx', '--input-type=module', '-e', script],
      { cwd, encoding: 'utf8', timeout: 60_000 },
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ before: false, after: true });
  });
});
