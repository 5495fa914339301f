import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CacheStatisticsTracker,
  COST_ENV_VARIABLE,
  StatsConfigurationError,
  StatsSnapshotError,
  type StatsSnapshotInput,
} from './index.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_700_000_000_000) {
  let now = start;
  const clock = () => now;
  return Object.assign(clock, {
    advance: (ms: number) => {
      now += ms;
    },
  });
}

const healthy: StatsSnapshotInput = {
  cacheHits: 60,
  cacheMisses: 40,
  cacheExpired: 10,
  totalQueries: 100,
  queriesWhileUninitialized: 5,
  costSavedUsd: 0.12,
  expiredEntriesCleaned: 7,
  cleanupRuns: 3,
  cleanupErrors: 1,
};

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('recording', () => {
  it('counts hits, misses by category and cleanups', async () => {
    const stats = new CacheStatisticsTracker({ costPerInference: 0.5 });
    await stats.recordHit();
    await stats.recordHit({ addCostSavings: false });
    await stats.recordMiss();
    await stats.recordMiss({ isExpired: true });
    await stats.recordMiss({ isUninitialized: true });
    await stats.recordCleanup(4);
    await stats.recordCleanup(9, { success: false });
    await stats.recordCleanupError();
    expect({
      cacheHits: stats.cacheHits,
      cacheMisses: stats.cacheMisses,
      cacheExpired: stats.cacheExpired,
      totalQueries: stats.totalQueries,
      queriesWhileUninitialized: stats.queriesWhileUninitialized,
      costSavedUsd: stats.costSavedUsd,
      expiredEntriesCleaned: stats.expiredEntriesCleaned,
      cleanupRuns: stats.cleanupRuns,
      cleanupErrors: stats.cleanupErrors,
    }).toEqual({
      cacheHits: 2,
      cacheMisses: 3,
      cacheExpired: 1,
      totalQueries: 5,
      queriesWhileUninitialized: 1,
      costSavedUsd: 0.5,
      expiredEntriesCleaned: 4,
      cleanupRuns: 2,
      cleanupErrors: 2,
    });
  });

  it('rejects both miss categories at once with a TypeError, counting nothing', async () => {
    const stats = new CacheStatisticsTracker();
    await expect(stats.recordMiss({ isExpired: true, isUninitialized: true })).rejects.toThrow(TypeError);
    await expect(stats.recordMiss({ isExpired: true, isUninitialized: true })).rejects.toThrow(
      /mutually exclusive/,
    );
    expect(stats.cacheMisses).toBe(0);
    expect(stats.totalQueries).toBe(0);
  });

  it('rejects a negative or fractional cleanup count with a RangeError, counting nothing', async () => {
    const stats = new CacheStatisticsTracker();
    await expect(stats.recordCleanup(-1)).rejects.toThrow(RangeError);
    await expect(stats.recordCleanup(1.5)).rejects.toThrow(
      /"entriesCleaned" must be an integer >= 0, got 1.5/,
    );
    await expect(stats.recordCleanup(Number.NaN)).rejects.toThrow(RangeError);
    // @ts-expect-error wrong type
    await expect(stats.recordCleanup('3')).rejects.toThrow(TypeError);
    expect(stats.cleanupRuns).toBe(0);
    await stats.recordCleanup(0);
    expect(stats.cleanupRuns).toBe(1);
  });

  it('rejects non-boolean flags', async () => {
    const stats = new CacheStatisticsTracker();
    // @ts-expect-error wrong type
    await expect(stats.recordHit({ addCostSavings: 'no' })).rejects.toThrow(
      /"addCostSavings" must be a boolean/,
    );
    // @ts-expect-error wrong type
    await expect(stats.recordMiss(true)).rejects.toThrow(/options must be an object/);
    expect(stats.totalQueries).toBe(0);
  });

  it('loses nothing under thousands of concurrent un-awaited records', async () => {
    const stats = new CacheStatisticsTracker({ costPerInference: 0.1 });
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 5000; i++) {
      pending.push(stats.recordHit());
      pending.push(stats.recordMiss({ isExpired: i % 2 === 0, isUninitialized: i % 3 === 0 && i % 2 !== 0 }));
      if (i % 10 === 0) pending.push(stats.recordCleanup(2));
      if (i % 100 === 0) pending.push(stats.getSnapshot().then(() => undefined));
    }
    await Promise.all(pending);
    expect(stats.cacheHits).toBe(5000);
    expect(stats.cacheMisses).toBe(5000);
    expect(stats.totalQueries).toBe(10_000);
    expect(stats.cacheExpired).toBe(2500);
    expect(stats.queriesWhileUninitialized).toBe(833);
    expect(stats.cleanupRuns).toBe(500);
    expect(stats.expiredEntriesCleaned).toBe(1000);
    expect(stats.costSavedUsd).toBe(500);
    const result = await stats.validateConsistency({ autoHeal: false });
    expect(result.consistent).toBe(true);
  });
});

describe('cost saved', () => {
  it('is exact: 3 hits at 0.1 is exactly 0.3', async () => {
    const stats = new CacheStatisticsTracker({ costPerInference: 0.1 });
    for (let i = 0; i < 3; i++) await stats.recordHit();
    expect(stats.costSavedUsd).toBe(0.3);
    expect((await stats.getSnapshot()).costSavedUsd).toBe(0.3);
  });

  it('is exact: 100,000 hits at 0.002 is exactly 200', async () => {
    const stats = new CacheStatisticsTracker({ costPerInference: 0.002 });
    for (let i = 0; i < 100_000; i++) await stats.recordHit();
    expect(stats.costSavedUsd).toBe(200);
  });

  it('adds exactly onto a restored amount', async () => {
    const stats = await CacheStatisticsTracker.fromSnapshot(
      { ...healthy, costSavedUsd: 0.2 },
      { costPerInference: 0.1 },
    );
    await stats.recordHit();
    expect(stats.costSavedUsd).toBe(0.3);
  });

  it('defaults to 0.002, else takes ML_INFERENCE_COST_USD, and the option wins over both', async () => {
    vi.stubEnv(COST_ENV_VARIABLE, undefined);
    expect(new CacheStatisticsTracker().costPerInference).toBe(0.002);
    vi.stubEnv(COST_ENV_VARIABLE, '');
    expect(new CacheStatisticsTracker().costPerInference).toBe(0.002);
    vi.stubEnv(COST_ENV_VARIABLE, ' 0.05 ');
    const fromEnv = new CacheStatisticsTracker();
    expect(fromEnv.costPerInference).toBe(0.05);
    await fromEnv.recordHit();
    await fromEnv.recordHit();
    expect(fromEnv.costSavedUsd).toBe(0.1);
    vi.stubEnv(COST_ENV_VARIABLE, '1e-3');
    expect(new CacheStatisticsTracker().costPerInference).toBe(0.001);
    expect(new CacheStatisticsTracker({ costPerInference: 0 }).costPerInference).toBe(0);
  });

  it('makes an invalid ML_INFERENCE_COST_USD a configuration error naming the variable and value', () => {
    for (const bad of ['abc', '-0.1', 'NaN', 'Infinity', '0x10', '1,5', '0.1usd']) {
      vi.stubEnv(COST_ENV_VARIABLE, bad);
      let error: unknown;
      try {
        new CacheStatisticsTracker();
      } catch (caught) {
        error = caught;
      }
      expect(error, bad).toBeInstanceOf(StatsConfigurationError);
      const configError = error as StatsConfigurationError;
      expect(configError.code).toBe('E_STATS_CONFIG_INVALID');
      expect(configError.variable).toBe('ML_INFERENCE_COST_USD');
      expect(configError.value).toBe(bad);
      expect(configError.message).toContain(`ML_INFERENCE_COST_USD=${JSON.stringify(bad)}`);
    }
    // An explicit option does not read the environment at all.
    expect(new CacheStatisticsTracker({ costPerInference: 0.01 }).costPerInference).toBe(0.01);
  });

  it('rejects a bad costPerInference option', () => {
    expect(() => new CacheStatisticsTracker({ costPerInference: -1 })).toThrow(RangeError);
    expect(() => new CacheStatisticsTracker({ costPerInference: Number.NaN })).toThrow(/finite number >= 0/);
    expect(() => new CacheStatisticsTracker({ costPerInference: Number.POSITIVE_INFINITY })).toThrow(
      RangeError,
    );
    // @ts-expect-error wrong type
    expect(() => new CacheStatisticsTracker({ costPerInference: '0.1' })).toThrow(TypeError);
  });
});

describe('event log', () => {
  it('records typed events with the counters after each, oldest first', async () => {
    const clock = manualClock(1000);
    const stats = new CacheStatisticsTracker({ clock });
    await stats.recordHit();
    clock.advance(5);
    await stats.recordMiss({ isExpired: true });
    clock.advance(5);
    await stats.recordMiss({ isUninitialized: true });
    await stats.recordMiss();
    await stats.recordCleanup(3);
    await stats.recordCleanup(2, { success: false });
    await stats.recordCleanupError();
    const events = stats.getRecentEvents(100);
    expect(events.map((e) => e.type)).toEqual([
      'hit',
      'miss_expired',
      'miss_uninitialized',
      'miss',
      'cleanup_success',
      'cleanup_error',
      'cleanup_error',
    ]);
    expect(events[0]).toEqual({
      timestamp: 1000,
      type: 'hit',
      details: { addCostSavings: true },
      snapshot: { hits: 1, misses: 0, total: 1 },
    });
    expect(events[1]).toMatchObject({ timestamp: 1005, snapshot: { hits: 1, misses: 1, total: 2 } });
    expect(events[2]?.timestamp).toBe(1010);
    expect(events[4]?.details).toEqual({ entriesCleaned: 3 });
    expect(events[5]?.details).toEqual({ entriesCleaned: 2 });
  });

  it('keeps only the newest maxEventLogSize events; getRecentEvents defaults to 10, oldest first', async () => {
    let t = 0;
    const stats = new CacheStatisticsTracker({ maxEventLogSize: 25, clock: () => t++ });
    for (let i = 0; i < 103; i++) await stats.recordHit();
    const ten = stats.getRecentEvents();
    expect(ten.map((e) => e.snapshot.hits)).toEqual([94, 95, 96, 97, 98, 99, 100, 101, 102, 103]);
    const all = stats.getRecentEvents(1000);
    expect(all).toHaveLength(25);
    expect(all[0]?.snapshot.hits).toBe(79);
    expect(all.at(-1)?.snapshot.hits).toBe(103);
    expect(stats.getRecentEvents(0)).toEqual([]);
    expect(() => stats.getRecentEvents(-1)).toThrow(RangeError);
    expect(() => stats.getRecentEvents(1.5)).toThrow(RangeError);
  });

  it('defaults to 100 events and validates maxEventLogSize', () => {
    expect(new CacheStatisticsTracker().maxEventLogSize).toBe(100);
    expect(() => new CacheStatisticsTracker({ maxEventLogSize: 0 })).toThrow(RangeError);
    expect(() => new CacheStatisticsTracker({ maxEventLogSize: 2.5 })).toThrow(
      /maxEventLogSize must be an integer/,
    );
    expect(() => new CacheStatisticsTracker({ maxEventLogSize: 10_000_000 })).toThrow(RangeError);
    // @ts-expect-error wrong type
    expect(() => new CacheStatisticsTracker({ clock: 5 })).toThrow(TypeError);
  });

  it('returns copies: changing a returned event does not change the log', async () => {
    const stats = new CacheStatisticsTracker();
    await stats.recordHit();
    const [event] = stats.getRecentEvents(1);
    (event as { snapshot: { hits: number } }).snapshot.hits = 99;
    (event as { details: Record<string, unknown> }).details['addCostSavings'] = 'changed';
    expect(stats.getRecentEvents(1)[0]).toMatchObject({
      details: { addCostSavings: true },
      snapshot: { hits: 1 },
    });
  });
});

describe('snapshot, reset and restore', () => {
  it('takes every counter, the bookkeeping and the uptime', async () => {
    const clock = manualClock();
    const stats = new CacheStatisticsTracker({ costPerInference: 0.25, clock });
    await stats.recordHit();
    await stats.recordMiss({ isExpired: true });
    clock.advance(2500);
    expect(await stats.getSnapshot()).toEqual({
      cacheHits: 1,
      cacheMisses: 1,
      cacheExpired: 1,
      totalQueries: 2,
      queriesWhileUninitialized: 0,
      costSavedUsd: 0.25,
      expiredEntriesCleaned: 0,
      cleanupRuns: 0,
      cleanupErrors: 0,
      consistencyViolations: 0,
      autoHealCount: 0,
      lastConsistencyCheck: null,
      uptimeSeconds: 2.5,
    });
    expect(stats.uptimeSeconds).toBe(2.5);
  });

  it('reset zeroes everything, clears the log, then logs one reset event', async () => {
    const clock = manualClock();
    const stats = await CacheStatisticsTracker.fromSnapshot({ ...healthy, cacheHits: -1 }, { clock });
    await stats.validateConsistency();
    for (let i = 0; i < 5; i++) await stats.recordHit();
    clock.advance(10_000);
    await stats.reset();
    const snapshot = await stats.getSnapshot();
    expect(snapshot).toEqual({
      cacheHits: 0,
      cacheMisses: 0,
      cacheExpired: 0,
      totalQueries: 0,
      queriesWhileUninitialized: 0,
      costSavedUsd: 0,
      expiredEntriesCleaned: 0,
      cleanupRuns: 0,
      cleanupErrors: 0,
      consistencyViolations: 0,
      autoHealCount: 0,
      lastConsistencyCheck: null,
      uptimeSeconds: 0,
    });
    const events = stats.getRecentEvents(100);
    expect(events).toEqual([
      { timestamp: clock(), type: 'reset', details: {}, snapshot: { hits: 0, misses: 0, total: 0 } },
    ]);
  });

  it('restores what getSnapshot returned, bookkeeping optional', async () => {
    const source = await CacheStatisticsTracker.fromSnapshot({
      ...healthy,
      consistencyViolations: 2,
      autoHealCount: 3,
      lastConsistencyCheck: 1234,
    });
    const copy = await CacheStatisticsTracker.fromSnapshot(await source.getSnapshot());
    const { uptimeSeconds: _a, ...a } = await source.getSnapshot();
    const { uptimeSeconds: _b, ...b } = await copy.getSnapshot();
    expect(b).toEqual(a);
    expect(b.consistencyViolations).toBe(2);

    const bare = await CacheStatisticsTracker.fromSnapshot(healthy);
    expect(bare.consistencyViolations).toBe(0);
    expect(bare.autoHealCount).toBe(0);
    expect(bare.lastConsistencyCheck).toBeNull();
    expect(bare.cacheHits).toBe(60);
    expect(bare.costSavedUsd).toBe(0.12);
  });

  it('restore replaces the counters of a live tracker and keeps its event log', async () => {
    const stats = new CacheStatisticsTracker();
    await stats.recordHit();
    await stats.restore(healthy);
    expect(stats.cacheHits).toBe(60);
    expect(stats.totalQueries).toBe(100);
    expect(stats.getRecentEvents()).toHaveLength(1);
    await stats.recordHit();
    expect(stats.getRecentEvents().at(-1)?.snapshot).toEqual({ hits: 61, misses: 40, total: 101 });
  });

  it('rejects a snapshot of the wrong type or shape, naming the field', async () => {
    const stats = new CacheStatisticsTracker();
    const attempt = (input: unknown) => stats.restore(input as StatsSnapshotInput);
    await expect(attempt({ ...healthy, cacheHits: '12' })).rejects.toThrow(StatsSnapshotError);
    await expect(attempt({ ...healthy, cacheHits: '12' })).rejects.toThrow(
      'invalid stats snapshot: cacheHits: expected number, got string "12"',
    );
    const { totalQueries: _omit, ...missing } = healthy;
    await expect(attempt(missing)).rejects.toThrow('totalQueries: expected number, got undefined');
    await expect(attempt({ ...healthy, costSavedUsd: Number.POSITIVE_INFINITY })).rejects.toThrow(
      'costSavedUsd: expected a finite number, got number Infinity',
    );
    await expect(attempt({ ...healthy, autoHealCount: 1.5 })).rejects.toThrow(
      'autoHealCount: expected an integer',
    );
    await expect(attempt({ ...healthy, lastConsistencyCheck: 'yesterday' })).rejects.toThrow(
      'lastConsistencyCheck',
    );
    await expect(attempt([])).rejects.toThrow('(snapshot): expected object, got array');
    await expect(attempt(null)).rejects.toThrow('(snapshot): expected object, got null');
    const error = await attempt({ ...healthy, cacheHits: null, cleanupRuns: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as StatsSnapshotError).code).toBe('E_STATS_SNAPSHOT_INVALID');
    expect((error as StatsSnapshotError).problems.map((p) => p.field)).toEqual(['cacheHits', 'cleanupRuns']);
    // Nothing was loaded by a rejected restore.
    expect(stats.cacheHits).toBe(0);
  });

  it('loads -0 as 0, so snapshots survive JSON unchanged', async () => {
    const stats = await CacheStatisticsTracker.fromSnapshot({
      ...healthy,
      cleanupRuns: -0,
      costSavedUsd: -0,
    });
    expect(Object.is(stats.cleanupRuns, 0)).toBe(true);
    expect(Object.is(stats.costSavedUsd, 0)).toBe(true);
  });

  it('accepts values that merely break invariants', async () => {
    const stats = await CacheStatisticsTracker.fromSnapshot({
      ...healthy,
      cacheHits: -5,
      totalQueries: 3.5,
      costSavedUsd: -1,
    });
    expect(stats.cacheHits).toBe(-5);
    expect(stats.totalQueries).toBe(3.5);
    expect(stats.costSavedUsd).toBe(-1);
  });
});

describe('validateConsistency', () => {
  it('reports a healthy tracker as consistent and logs nothing', async () => {
    const clock = manualClock();
    const stats = await CacheStatisticsTracker.fromSnapshot(healthy, { clock });
    const result = await stats.validateConsistency();
    expect(result).toEqual({
      consistent: true,
      converged: true,
      issues: [],
      healed: [],
      autoHealEnabled: true,
      totalViolations: 0,
      totalHeals: 0,
      lastCheck: clock(),
      currentState: {
        cacheHits: 60,
        cacheMisses: 40,
        cacheExpired: 10,
        totalQueries: 100,
        queriesWhileUninitialized: 5,
        hitRate: 0.6,
        expiredRate: 10 / 70,
      },
    });
    expect(stats.lastConsistencyCheck).toBe(clock());
    expect(stats.getRecentEvents()).toEqual([]);
  });

  it('reports rates of 0 for an empty tracker', async () => {
    const { currentState } = await new CacheStatisticsTracker().validateConsistency();
    expect(currentState.hitRate).toBe(0);
    expect(currentState.expiredRate).toBe(0);
  });

  it('heals a drifted total and renders the change as a line', async () => {
    const stats = await CacheStatisticsTracker.fromSnapshot({
      ...healthy,
      cacheHits: 60,
      cacheMisses: 35,
      totalQueries: 100,
      cacheExpired: 10,
    });
    const result = await stats.validateConsistency();
    expect(result.consistent).toBe(false);
    expect(result.converged).toBe(true);
    expect(result.healed.map(String)).toEqual(['totalQueries: 100 → 95']);
    expect(result.issues).toHaveLength(1);
    expect(result.issues[0]?.invariantId).toBe('total-equals-hits-plus-misses');
    expect(result.issues[0]?.details).toEqual({ expected: 95, actual: 100, drift: 5 });
    expect(result.totalViolations).toBe(1);
    expect(result.totalHeals).toBe(1);
    expect(stats.totalQueries).toBe(95);
    expect(result.currentState.totalQueries).toBe(95);
    // Heal results serialise to plain JSON.
    expect(JSON.parse(JSON.stringify(result.healed))).toEqual([
      { field: 'totalQueries', from: 100, to: 95, invariantId: 'total-equals-hits-plus-misses', pass: 1 },
    ]);
    const [event] = stats.getRecentEvents();
    expect(event?.type).toBe('consistency_violation');
    expect(event?.details).toEqual({
      invariants: ['total-equals-hits-plus-misses'],
      healed: ['totalQueries: 100 → 95'],
      autoHeal: true,
      converged: true,
    });
  });

  it('heals every broken rule at once to a fixpoint; a second call reports nothing', async () => {
    const stats = await CacheStatisticsTracker.fromSnapshot({
      cacheHits: -5, // rule 4
      cacheMisses: 10,
      cacheExpired: 12, // rule 2 (and 5)
      totalQueries: 100, // rule 1
      queriesWhileUninitialized: 11, // rule 3 (and 5)
      costSavedUsd: -0.5, // rule 4
      expiredEntriesCleaned: 2.5, // rule 4: not an integer
      cleanupRuns: 1,
      cleanupErrors: -1, // rule 4
    });
    const first = await stats.validateConsistency();
    expect(first.consistent).toBe(false);
    expect(first.converged).toBe(true);
    expect(first.issues.map((i) => i.invariantId).sort()).toEqual([
      'counters-non-negative',
      'expired-within-misses',
      'miss-categories-disjoint',
      'total-equals-hits-plus-misses',
      'uninitialized-within-misses',
    ]);
    expect(first.issues.find((i) => i.invariantId === 'counters-non-negative')?.details).toEqual({
      invalid: { cacheHits: -5, expiredEntriesCleaned: 2.5, cleanupErrors: -1, costSavedUsd: -0.5 },
      expected: 'finite integer >= 0',
    });
    expect(first.issues.find((i) => i.invariantId === 'expired-within-misses')?.details).toEqual({
      limit: 10,
      actual: 12,
      overflow: 2,
    });
    expect(first.healed.map(String)).toEqual([
      'cacheHits: -5 → 0',
      'expiredEntriesCleaned: 2.5 → 0',
      'cleanupErrors: -1 → 0',
      'costSavedUsd: -0.5 → 0',
      'totalQueries: 100 → 10',
      'cacheExpired: 12 → 10',
      'queriesWhileUninitialized: 11 → 0',
    ]);
    expect(stats.autoHealCount).toBe(7);
    expect(stats.consistencyViolations).toBe(1);
    const snapshot = await stats.getSnapshot();
    expect(snapshot).toMatchObject({
      cacheHits: 0,
      cacheMisses: 10,
      cacheExpired: 10,
      totalQueries: 10,
      queriesWhileUninitialized: 0,
      costSavedUsd: 0,
      expiredEntriesCleaned: 0,
      cleanupErrors: 0,
    });

    const second = await stats.validateConsistency();
    expect(second.consistent).toBe(true);
    expect(second.issues).toEqual([]);
    expect(second.healed).toEqual([]);
    expect(second.totalViolations).toBe(1);
    expect(second.totalHeals).toBe(7);
    expect(stats.getRecentEvents(100).filter((e) => e.type === 'consistency_violation')).toHaveLength(1);
  });

  it('judges the cost by its exact total: hits after a negative restored amount can lift it to >= 0', async () => {
    const stats = await CacheStatisticsTracker.fromSnapshot(
      { ...healthy, costSavedUsd: -0.3 },
      { costPerInference: 0.1 },
    );
    for (let i = 0; i < 3; i++) await stats.recordHit();
    expect(stats.costSavedUsd).toBe(0);
    const result = await stats.validateConsistency();
    expect(result.consistent).toBe(true);
    await stats.restore({ ...healthy, costSavedUsd: -0.3 });
    await stats.recordHit();
    const healed = await stats.validateConsistency();
    expect(healed.healed.map(String)).toEqual(['costSavedUsd: -0.2 → 0']);
    expect(stats.costSavedUsd).toBe(0);
    await stats.recordHit();
    expect(stats.costSavedUsd).toBe(0.1);
  });

  it('checks rule 5: expired + uninitialized within misses', async () => {
    const stats = await CacheStatisticsTracker.fromSnapshot({
      ...healthy,
      cacheMisses: 40,
      cacheExpired: 30,
      queriesWhileUninitialized: 20,
    });
    const result = await stats.validateConsistency();
    expect(result.issues.map((i) => i.invariantId)).toEqual(['miss-categories-disjoint']);
    expect(result.issues[0]?.details).toEqual({ limit: 40, actual: 50, overflow: 10 });
    expect(result.healed.map(String)).toEqual(['queriesWhileUninitialized: 20 → 10']);
  });

  it('with autoHeal: false reports without changing anything, and still counts the violation', async () => {
    const stats = await CacheStatisticsTracker.fromSnapshot({ ...healthy, totalQueries: 101 });
    const result = await stats.validateConsistency({ autoHeal: false });
    expect(result.consistent).toBe(false);
    expect(result.converged).toBe(false);
    expect(result.autoHealEnabled).toBe(false);
    expect(result.healed).toEqual([]);
    expect(result.totalViolations).toBe(1);
    expect(result.totalHeals).toBe(0);
    expect(stats.totalQueries).toBe(101);
    const healed = await stats.validateConsistency();
    expect(healed.healed.map(String)).toEqual(['totalQueries: 101 → 100']);
    expect(healed.totalViolations).toBe(2);
  });
});
