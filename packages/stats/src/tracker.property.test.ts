import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CacheStatisticsTracker, type StatsSnapshot, type StatsSnapshotInput } from './index.js';

type Operation =
  | { kind: 'hit'; addCostSavings: boolean }
  | { kind: 'miss'; category: 'plain' | 'expired' | 'uninitialized' }
  | { kind: 'cleanup'; entries: number; success: boolean }
  | { kind: 'cleanupError' }
  | { kind: 'reset' };

const operationArb: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('hit' as const), addCostSavings: fc.boolean() }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('miss' as const),
      category: fc.constantFrom('plain' as const, 'expired' as const, 'uninitialized' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('cleanup' as const),
      entries: fc.nat({ max: 50 }),
      success: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'cleanupError' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
);

async function apply(stats: CacheStatisticsTracker, op: Operation): Promise<void> {
  switch (op.kind) {
    case 'hit':
      return stats.recordHit({ addCostSavings: op.addCostSavings });
    case 'miss':
      return stats.recordMiss({
        isExpired: op.category === 'expired',
        isUninitialized: op.category === 'uninitialized',
      });
    case 'cleanup':
      return stats.recordCleanup(op.entries, { success: op.success });
    case 'cleanupError':
      return stats.recordCleanupError();
    case 'reset':
      return stats.reset();
  }
}

/** The five rules, written out independently of the implementation. */
function violatedRules(s: StatsSnapshot): string[] {
  const broken: string[] = [];
  if (s.totalQueries !== s.cacheHits + s.cacheMisses) broken.push('1');
  if (s.cacheExpired > s.cacheMisses) broken.push('2');
  if (s.queriesWhileUninitialized > s.cacheMisses) broken.push('3');
  const counters = [
    s.cacheHits,
    s.cacheMisses,
    s.cacheExpired,
    s.totalQueries,
    s.queriesWhileUninitialized,
    s.expiredEntriesCleaned,
    s.cleanupRuns,
    s.cleanupErrors,
  ];
  if (
    !counters.every((v) => Number.isInteger(v) && v >= 0) ||
    !(Number.isFinite(s.costSavedUsd) && s.costSavedUsd >= 0)
  )
    broken.push('4');
  if (s.cacheExpired + s.queriesWhileUninitialized > s.cacheMisses) broken.push('5');
  return broken;
}

function counters(s: StatsSnapshot) {
  const {
    uptimeSeconds: _u,
    lastConsistencyCheck: _l,
    consistencyViolations: _c,
    autoHealCount: _a,
    ...rest
  } = s;
  return rest;
}

/** Any finite value a snapshot may carry: mostly small integers (often negative), some fractions. */
const valueArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -50, max: 200 }) },
  { weight: 1, arbitrary: fc.double({ min: -100, max: 100, noNaN: true }) },
);
const corruptSnapshotArb: fc.Arbitrary<StatsSnapshotInput> = fc.record({
  cacheHits: valueArb,
  cacheMisses: valueArb,
  cacheExpired: valueArb,
  totalQueries: valueArb,
  queriesWhileUninitialized: valueArb,
  costSavedUsd: fc.double({ min: -10, max: 10, noNaN: true }),
  expiredEntriesCleaned: valueArb,
  cleanupRuns: valueArb,
  cleanupErrors: valueArb,
});

describe('tracker properties', () => {
  it('random operation sequences keep every invariant without healing, and match a model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operationArb, { maxLength: 200 }), async (ops) => {
        const stats = new CacheStatisticsTracker({ costPerInference: 0.1, maxEventLogSize: 16 });
        const model = {
          hits: 0,
          misses: 0,
          expired: 0,
          uninitialized: 0,
          savings: 0,
          cleaned: 0,
          runs: 0,
          errors: 0,
        };
        let events = 0;
        for (const op of ops) {
          await apply(stats, op);
          events = op.kind === 'reset' ? 1 : events + 1;
          if (op.kind === 'hit') {
            model.hits++;
            if (op.addCostSavings) model.savings++;
          } else if (op.kind === 'miss') {
            model.misses++;
            if (op.category === 'expired') model.expired++;
            if (op.category === 'uninitialized') model.uninitialized++;
          } else if (op.kind === 'cleanup') {
            model.runs++;
            if (op.success) model.cleaned += op.entries;
            else model.errors++;
          } else if (op.kind === 'cleanupError') model.errors++;
          else for (const key of Object.keys(model) as (keyof typeof model)[]) model[key] = 0;
        }
        const snapshot = await stats.getSnapshot();
        expect(violatedRules(snapshot)).toEqual([]);
        expect(counters(snapshot)).toEqual({
          cacheHits: model.hits,
          cacheMisses: model.misses,
          cacheExpired: model.expired,
          totalQueries: model.hits + model.misses,
          queriesWhileUninitialized: model.uninitialized,
          costSavedUsd: Number(`${Math.floor(model.savings / 10)}.${model.savings % 10}`),
          expiredEntriesCleaned: model.cleaned,
          cleanupRuns: model.runs,
          cleanupErrors: model.errors,
        });
        const result = await stats.validateConsistency({ autoHeal: false });
        expect(result.consistent).toBe(true);
        expect(stats.consistencyViolations).toBe(0);
        expect(stats.getRecentEvents(100).length).toBe(Math.min(16, events));
      }),
      { numRuns: 200 },
    );
  });

  it('random corruption always heals to a state holding every rule in one call, idempotently', async () => {
    await fc.assert(
      fc.asyncProperty(corruptSnapshotArb, async (corrupt) => {
        const stats = await CacheStatisticsTracker.fromSnapshot(corrupt);
        const found = violatedRules({ ...(await stats.getSnapshot()) });
        const first = await stats.validateConsistency();
        expect(first.converged).toBe(true);
        expect(first.consistent).toBe(found.length === 0);
        const healed = await stats.getSnapshot();
        expect(violatedRules(healed)).toEqual([]);
        expect(stats.autoHealCount).toBe(first.healed.length);
        expect(stats.consistencyViolations).toBe(found.length === 0 ? 0 : 1);

        const second = await stats.validateConsistency();
        expect(second.consistent).toBe(true);
        expect(second.issues).toEqual([]);
        expect(second.healed).toEqual([]);
        expect(counters(await stats.getSnapshot())).toEqual(counters(healed));
        expect(stats.consistencyViolations).toBe(found.length === 0 ? 0 : 1);
      }),
      { numRuns: 500 },
    );
  });

  it('healing leaves a consistent state alone', async () => {
    const consistentArb = fc
      .record({
        hits: fc.nat(1000),
        misses: fc.nat(1000),
        a: fc.nat(1000),
        b: fc.nat(1000),
        cost: fc.double({ min: 0, max: 10, noNaN: true }),
      })
      .map(({ hits, misses, a, b, cost }) => {
        const expired = a % (misses + 1);
        return {
          cacheHits: hits,
          cacheMisses: misses,
          cacheExpired: expired,
          totalQueries: hits + misses,
          queriesWhileUninitialized: b % (misses - expired + 1),
          costSavedUsd: cost,
          expiredEntriesCleaned: a,
          cleanupRuns: b,
          cleanupErrors: a % 7,
        };
      });
    await fc.assert(
      fc.asyncProperty(consistentArb, async (snapshot) => {
        const stats = await CacheStatisticsTracker.fromSnapshot(snapshot);
        const result = await stats.validateConsistency();
        expect(result.consistent).toBe(true);
        expect(result.healed).toEqual([]);
        expect(counters(await stats.getSnapshot())).toEqual(snapshot);
      }),
      { numRuns: 200 },
    );
  });

  it('snapshot → fromSnapshot round-trips every counter and the bookkeeping', async () => {
    await fc.assert(
      fc.asyncProperty(
        corruptSnapshotArb,
        fc.array(operationArb, { maxLength: 30 }),
        fc.boolean(),
        async (start, ops, heal) => {
          const stats = await CacheStatisticsTracker.fromSnapshot(start, { costPerInference: 0.003 });
          for (const op of ops) await apply(stats, op);
          if (heal) await stats.validateConsistency();
          const snapshot = await stats.getSnapshot();
          const copy = await CacheStatisticsTracker.fromSnapshot(JSON.parse(JSON.stringify(snapshot)));
          const { uptimeSeconds: _a, ...expected } = snapshot;
          const { uptimeSeconds: _b, ...actual } = await copy.getSnapshot();
          expect(actual).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});
