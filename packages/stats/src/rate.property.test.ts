import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CacheStatisticsTracker, StatsRegistry, type StatsSnapshotInput } from './index.js';
import { rate } from './rate.js';

// Counters a snapshot may carry before it is healed: any finite number, with
// negatives, fractions and huge values well represented.
const counterArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -1_000, max: 1_000 }) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE) },
);
const snapshotArb: fc.Arbitrary<StatsSnapshotInput> = fc.record({
  cacheHits: counterArb,
  cacheMisses: counterArb,
  cacheExpired: counterArb,
  totalQueries: counterArb,
  queriesWhileUninitialized: counterArb,
  costSavedUsd: fc.double({ min: 0, max: 10, noNaN: true }),
  expiredEntriesCleaned: fc.nat(),
  cleanupRuns: fc.nat(),
  cleanupErrors: fc.nat(),
});

const inUnitInterval = (value: number) => Number.isFinite(value) && value >= 0 && value <= 1;

describe('hitRate and expiredRate', () => {
  it('rate() is within [0, 1] for any pair of numbers, NaN and infinities included', () => {
    fc.assert(
      fc.property(fc.double(), fc.double(), (part, whole) => {
        expect(inUnitInterval(rate(part, whole)), `rate(${part}, ${whole})`).toBe(true);
      }),
    );
  });

  it('a denominator that is not positive gives 0', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true }), fc.double({ max: 0, noNaN: true }), (part, whole) => {
        expect(rate(part, whole)).toBe(0);
      }),
    );
    expect(rate(-5, -3)).toBe(0);
    expect(rate(5, -3)).toBe(0);
  });

  it('consistent counters give exactly part / whole (the clamp changes nothing that was right)', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), (part, rest) => {
        fc.pre(part + rest > 0);
        expect(rate(part, part + rest)).toBe(part / (part + rest));
      }),
    );
  });

  it('validateConsistency reports rates within [0, 1] for any restored counters, healed or not', async () => {
    await fc.assert(
      fc.asyncProperty(snapshotArb, fc.boolean(), async (snapshot, autoHeal) => {
        const tracker = await CacheStatisticsTracker.fromSnapshot(snapshot);
        const { currentState } = await tracker.validateConsistency({ autoHeal });
        expect(inUnitInterval(currentState.hitRate), `hitRate ${currentState.hitRate}`).toBe(true);
        expect(inUnitInterval(currentState.expiredRate), `expiredRate ${currentState.expiredRate}`).toBe(
          true,
        );
      }),
    );
  });

  it('the Prometheus rate gauges stay within [0, 1] for any restored counters', async () => {
    await fc.assert(
      fc.asyncProperty(snapshotArb, async (snapshot) => {
        const registry = new StatsRegistry();
        await registry.tracker('c').restore(snapshot);
        const text = registry.metrics();
        for (const gauge of ['cache_hit_rate', 'cache_expired_rate']) {
          const value = Number(new RegExp(`^${gauge}\\{cache="c"\\} (\\S+)$`, 'm').exec(text)?.[1]);
          expect(inUnitInterval(value), `${gauge} ${value}`).toBe(true);
        }
      }),
    );
  });

  it('a negative denominator gives 0 and a part larger than the whole is clamped to 1', async () => {
    const tracker = await CacheStatisticsTracker.fromSnapshot({
      cacheHits: 4,
      cacheMisses: -10,
      cacheExpired: 8,
      totalQueries: -6,
      queriesWhileUninitialized: 0,
      costSavedUsd: 0,
      expiredEntriesCleaned: 0,
      cleanupRuns: 0,
      cleanupErrors: 0,
    });
    const { currentState } = await tracker.validateConsistency({ autoHeal: false });
    // hits + misses = -6 → 0 (was 4 / -6); expired / (hits + expired) = 8 / 12 stays.
    expect(currentState.hitRate).toBe(0);
    expect(currentState.expiredRate).toBeCloseTo(8 / 12, 12);
    const larger = await CacheStatisticsTracker.fromSnapshot({
      cacheHits: 10,
      cacheMisses: -4,
      cacheExpired: 0,
      totalQueries: 6,
      queriesWhileUninitialized: 0,
      costSavedUsd: 0,
      expiredEntriesCleaned: 0,
      cleanupRuns: 0,
      cleanupErrors: 0,
    });
    // 10 / 6 would be 1.67.
    expect((await larger.validateConsistency({ autoHeal: false })).currentState.hitRate).toBe(1);
  });
});
