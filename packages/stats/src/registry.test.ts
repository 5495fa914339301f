import { describe, expect, it } from 'vitest';
import { CacheStatisticsTracker, PROMETHEUS_CONTENT_TYPE, StatsRegistry } from './index.js';

// One line of the text exposition format 0.0.4: a comment, or `name{labels} value`.
const HELP = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/;
const TYPE = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/;
const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{cache="((?:[^"\\\n]|\\\\|\\"|\\n)*)"\} (NaN|[+-]Inf|-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/;

interface Parsed {
  types: Map<string, string>;
  helps: Map<string, string>;
  samples: { name: string; cache: string; value: number }[];
}

function parseExposition(text: string): Parsed {
  expect(text.endsWith('\n')).toBe(true);
  const parsed: Parsed = { types: new Map(), helps: new Map(), samples: [] };
  for (const line of text.slice(0, -1).split('\n')) {
    let m = HELP.exec(line);
    if (m) {
      expect(parsed.helps.has(m[1] as string), `HELP ${m[1]} twice`).toBe(false);
      parsed.helps.set(m[1] as string, m[2] as string);
      continue;
    }
    m = TYPE.exec(line);
    if (m) {
      expect(parsed.types.has(m[1] as string), `TYPE ${m[1]} twice`).toBe(false);
      parsed.types.set(m[1] as string, m[2] as string);
      continue;
    }
    m = SAMPLE.exec(line);
    expect(m, `not an exposition line: ${JSON.stringify(line)}`).not.toBeNull();
    if (!m) continue;
    const name = m[1] as string;
    // The format requires TYPE before the first sample of its family.
    expect(parsed.types.has(name), `sample of ${name} before its TYPE`).toBe(true);
    const cache = (m[2] as string).replace(/\\(\\|"|n)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    parsed.samples.push({ name, cache, value: Number(m[3]) });
  }
  return parsed;
}

describe('StatsRegistry', () => {
  it('gets or creates a named tracker and never throws on a repeat', () => {
    const registry = new StatsRegistry();
    const a = registry.tracker('embeddings', { costPerInference: 0.1 });
    expect(registry.tracker('embeddings')).toBe(a);
    expect(registry.tracker('embeddings', { costPerInference: 5 })).toBe(a);
    expect(a.costPerInference).toBe(0.1);
    expect(registry.tracker('llm')).not.toBe(a);
    expect(registry.names()).toEqual(['embeddings', 'llm']);
    expect(registry.get('embeddings')).toBe(a);
    expect(registry.get('nope')).toBeUndefined();
    expect(registry.names()).toEqual(['embeddings', 'llm']);
    expect(() => registry.tracker('')).toThrow(TypeError);
    // @ts-expect-error wrong type
    expect(() => registry.tracker(3)).toThrow(/"name" must be a non-empty string/);
  });

  it('exposes every tracker in the Prometheus text format with a cache label', async () => {
    const registry = new StatsRegistry();
    const embeddings = registry.tracker('embeddings', { costPerInference: 0.1 });
    const llm = registry.tracker('llm');
    for (let i = 0; i < 3; i++) await embeddings.recordHit();
    await embeddings.recordMiss({ isExpired: true });
    await llm.recordMiss({ isUninitialized: true });
    await llm.recordCleanup(4);
    await llm.recordCleanupError();

    const text = registry.metrics();
    const parsed = parseExposition(text);
    for (const [name, type] of parsed.types) {
      if (type === 'counter') expect(name).toMatch(/_total$/);
      expect(parsed.helps.get(name)).toBeTruthy();
    }
    expect(parsed.types.get('cache_hits_total')).toBe('counter');
    expect(parsed.types.get('cache_hit_rate')).toBe('gauge');
    expect(text).toContain('# TYPE cache_hits_total counter\n');
    // Every family has exactly one sample per cache.
    for (const name of parsed.types.keys()) {
      expect(parsed.samples.filter((s) => s.name === name).map((s) => s.cache)).toEqual([
        'embeddings',
        'llm',
      ]);
    }
    const value = (name: string, cache: string) =>
      parsed.samples.find((s) => s.name === name && s.cache === cache)?.value;
    for (const [cache, tracker] of [
      ['embeddings', embeddings],
      ['llm', llm],
    ] as const) {
      expect(value('cache_hits_total', cache)).toBe(tracker.cacheHits);
      expect(value('cache_misses_total', cache)).toBe(tracker.cacheMisses);
      expect(value('cache_expired_misses_total', cache)).toBe(tracker.cacheExpired);
      expect(value('cache_queries_total', cache)).toBe(tracker.totalQueries);
      expect(value('cache_uninitialized_queries_total', cache)).toBe(tracker.queriesWhileUninitialized);
      expect(value('cache_cost_saved_usd_total', cache)).toBe(tracker.costSavedUsd);
      expect(value('cache_expired_entries_cleaned_total', cache)).toBe(tracker.expiredEntriesCleaned);
      expect(value('cache_cleanup_runs_total', cache)).toBe(tracker.cleanupRuns);
      expect(value('cache_cleanup_errors_total', cache)).toBe(tracker.cleanupErrors);
      expect(value('cache_consistency_violations_total', cache)).toBe(tracker.consistencyViolations);
      expect(value('cache_auto_heals_total', cache)).toBe(tracker.autoHealCount);
    }
    expect(value('cache_cost_saved_usd_total', 'embeddings')).toBe(0.3);
    expect(value('cache_hit_rate', 'embeddings')).toBe(0.75);
    expect(value('cache_hit_rate', 'llm')).toBe(0);
    expect(value('cache_expired_rate', 'embeddings')).toBe(0.25);
    expect(PROMETHEUS_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('escapes backslash, double quote and newline in cache names', () => {
    const registry = new StatsRegistry();
    const name = 'a\\b "quoted"\nnext';
    registry.tracker(name);
    const text = registry.metrics();
    expect(text).toContain('cache_hits_total{cache="a\\\\b \\"quoted\\"\\nnext"} 0\n');
    expect(parseExposition(text).samples[0]?.cache).toBe(name);
  });

  it('is empty with no trackers', () => {
    expect(new StatsRegistry().metrics()).toBe('');
  });

  it('validates every tracker, results keyed by name', async () => {
    const registry = new StatsRegistry();
    await registry.tracker('ok').recordHit();
    const broken = registry.tracker('broken');
    await broken.restore({
      cacheHits: 60,
      cacheMisses: 35,
      cacheExpired: 0,
      totalQueries: 100,
      queriesWhileUninitialized: 0,
      costSavedUsd: 0,
      expiredEntriesCleaned: 0,
      cleanupRuns: 0,
      cleanupErrors: 0,
    });
    const dryRun = await registry.validateAll({ autoHeal: false });
    expect(Object.keys(dryRun)).toEqual(['ok', 'broken']);
    expect(dryRun['ok']?.consistent).toBe(true);
    expect(dryRun['broken']?.consistent).toBe(false);
    expect(broken.totalQueries).toBe(100);
    const healed = await registry.validateAll();
    expect(healed['broken']?.healed.map(String)).toEqual(['totalQueries: 100 → 95']);
    expect(broken.totalQueries).toBe(95);
    expect(registry.metrics()).toContain('cache_consistency_violations_total{cache="broken"} 2\n');
    expect(broken).toBeInstanceOf(CacheStatisticsTracker);
  });
});
