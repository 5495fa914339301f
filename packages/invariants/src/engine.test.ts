import { describe, expect, it } from 'vitest';
import { createInvariantEngine, defineInvariant, formatChange } from './index.js';

interface Counters {
  hits: number;
  misses: number;
  total: number;
  expired: number;
}

const totalIsSum = defineInvariant<Counters>({
  id: 'total-is-sum',
  description: 'total == hits + misses',
  check: (s) =>
    s.total === s.hits + s.misses
      ? null
      : { expected: s.hits + s.misses, actual: s.total, drift: s.total - (s.hits + s.misses) },
  heal: (s, v) => {
    const from = s.total;
    s.total = v['expected'] as number;
    return { field: 'total', from, to: s.total };
  },
});

const expiredWithinMisses = defineInvariant<Counters>({
  id: 'expired-le-misses',
  description: 'expired <= misses',
  check: (s) =>
    s.expired <= s.misses ? null : { limit: s.misses, actual: s.expired, overflow: s.expired - s.misses },
  heal: (s) => {
    const from = s.expired;
    s.expired = s.misses;
    return { field: 'expired', from, to: s.expired };
  },
});

const nonNegative = defineInvariant<Counters>({
  id: 'non-negative',
  description: 'every counter >= 0',
  check: (s) => {
    const negative = (Object.keys(s) as (keyof Counters)[]).filter((k) => s[k] < 0);
    return negative.length === 0 ? null : { fields: negative };
  },
  heal: (s) =>
    (Object.keys(s) as (keyof Counters)[])
      .filter((k) => s[k] < 0)
      .map((k) => {
        const from = s[k];
        s[k] = 0;
        return { field: k, from, to: 0 };
      }),
});

const rules = [totalIsSum, expiredWithinMisses, nonNegative];

describe('defineInvariant', () => {
  it('rejects an empty id, an empty description and a non-function check or heal', () => {
    const check = () => null;
    expect(() => defineInvariant({ id: '', description: 'd', check })).toThrow(
      /"id" must be a non-empty string/,
    );
    expect(() => defineInvariant({ id: 'a', description: ' ', check })).toThrow(/"description"/);
    // @ts-expect-error check must be a function
    expect(() => defineInvariant({ id: 'a', description: 'd', check: 1 })).toThrow(TypeError);
    // @ts-expect-error heal must be a function
    expect(() => defineInvariant({ id: 'a', description: 'd', check, heal: 'x' })).toThrow(/"heal"/);
  });

  it('marks whether a rule can heal', () => {
    expect(totalIsSum.healable).toBe(true);
    expect(defineInvariant({ id: 'a', description: 'd', check: () => null }).healable).toBe(false);
  });
});

describe('createInvariantEngine', () => {
  it('rejects duplicate ids and a bad maxPasses', () => {
    expect(() => createInvariantEngine([totalIsSum, totalIsSum])).toThrow(
      /duplicate invariant id "total-is-sum"/,
    );
    expect(() => createInvariantEngine(rules, { maxPasses: 0 })).toThrow(RangeError);
    expect(() => createInvariantEngine(rules, { maxPasses: 1.5 })).toThrow(
      /"maxPasses" must be an integer >= 1, got 1.5/,
    );
    expect(createInvariantEngine(rules).maxPasses).toBe(8);
  });

  it('reports a healthy state as consistent and changes nothing', () => {
    const state = { hits: 3, misses: 2, total: 5, expired: 1 };
    const report = createInvariantEngine(rules).validate(state, { autoHeal: true });
    expect(report).toEqual({
      consistent: true,
      issues: [],
      healed: [],
      passes: 0,
      converged: true,
      remaining: [],
    });
    expect(state).toEqual({ hits: 3, misses: 2, total: 5, expired: 1 });
  });

  it('reports issues with the numbers that explain them, and does not heal by default', () => {
    const state = { hits: 3, misses: 2, total: 9, expired: 4 };
    const report = createInvariantEngine(rules).validate(state);
    expect(report.consistent).toBe(false);
    expect(report.converged).toBe(false);
    expect(report.healed).toEqual([]);
    expect(report.issues.map((i) => i.invariantId)).toEqual(['total-is-sum', 'expired-le-misses']);
    expect(report.issues[0]?.details).toEqual({ expected: 5, actual: 9, drift: 4 });
    expect(report.issues[0]?.message).toBe('total == hits + misses (expected=5, actual=9, drift=4)');
    expect(report.issues[1]?.details).toEqual({ limit: 2, actual: 4, overflow: 2 });
    expect(report.remaining).toEqual(report.issues);
    expect(state).toEqual({ hits: 3, misses: 2, total: 9, expired: 4 });
  });

  it('heals, renders each change as a line, and stays consistent=false for the state as found', () => {
    const state = { hits: 60, misses: 35, total: 100, expired: 50 };
    const report = createInvariantEngine(rules).validate(state, { autoHeal: true });
    expect(report.consistent).toBe(false);
    expect(report.converged).toBe(true);
    expect(report.remaining).toEqual([]);
    expect(report.healed.map(String)).toEqual(['total: 100 → 95', 'expired: 50 → 35']);
    expect(formatChange(report.healed[0]!)).toBe('total: 100 → 95');
    expect(report.healed[0]).toMatchObject({ invariantId: 'total-is-sum', pass: 1 });
    // Serialises as plain data (toString is not an own enumerable field).
    expect(JSON.parse(JSON.stringify(report.healed[0]))).toEqual({
      field: 'total',
      from: 100,
      to: 95,
      invariantId: 'total-is-sum',
      pass: 1,
    });
    expect(state).toEqual({ hits: 60, misses: 35, total: 95, expired: 35 });
  });

  it('heals to a fixpoint where a single pass would leave a rule broken', () => {
    // Rule order puts total-is-sum before non-negative: healing hits=-5 to 0
    // breaks total again, which only a second pass repairs.
    const state = { hits: -5, misses: 10, total: 5, expired: 0 };
    const report = createInvariantEngine(rules).validate(state, { autoHeal: true });
    expect(report.issues.map((i) => i.invariantId)).toEqual(['non-negative']);
    expect(report.passes).toBe(2);
    expect(report.converged).toBe(true);
    expect(state).toEqual({ hits: 0, misses: 10, total: 10, expired: 0 });
    expect(report.healed.map(String)).toEqual(['hits: -5 → 0', 'total: 5 → 10']);
  });

  it('stops at the pass bound and reports what still breaks', () => {
    // Two heals that undo each other never converge.
    const flipUp = defineInvariant<{ x: number }>({
      id: 'x-even',
      description: 'x is even',
      check: (s) => (s.x % 2 === 0 ? null : { actual: s.x }),
      heal: (s) => {
        const from = s.x;
        s.x += 1;
        return { field: 'x', from, to: s.x };
      },
    });
    const flipDown = defineInvariant<{ x: number }>({
      id: 'x-odd',
      description: 'x is odd',
      check: (s) => (s.x % 2 === 1 ? null : { actual: s.x }),
      heal: (s) => {
        const from = s.x;
        s.x += 1;
        return { field: 'x', from, to: s.x };
      },
    });
    const state = { x: 3 };
    const report = createInvariantEngine([flipUp, flipDown], { maxPasses: 3 }).validate(state, {
      autoHeal: true,
    });
    expect(report.passes).toBe(3);
    expect(report.converged).toBe(false);
    expect(report.remaining.length).toBeGreaterThan(0);
  });

  it('stops early when no heal can change anything', () => {
    const unhealable = defineInvariant<{ x: number }>({
      id: 'x-zero',
      description: 'x == 0',
      check: (s) => (s.x === 0 ? null : { actual: s.x }),
    });
    const report = createInvariantEngine([unhealable]).validate({ x: 1 }, { autoHeal: true });
    expect(report.passes).toBe(1);
    expect(report.converged).toBe(false);
    expect(report.remaining[0]?.invariantId).toBe('x-zero');
  });

  it('reports a throwing check or heal as an issue of that invariant instead of throwing', () => {
    const badCheck = defineInvariant<{ x: number }>({
      id: 'bad-check',
      description: 'check throws',
      check: () => {
        throw new Error('boom');
      },
    });
    const badHeal = defineInvariant<{ x: number }>({
      id: 'bad-heal',
      description: 'x == 0',
      check: (s) => (s.x === 0 ? null : { actual: s.x }),
      heal: () => {
        throw new Error('cannot heal');
      },
    });
    const garbageHeal = defineInvariant<{ x: number }>({
      id: 'garbage-heal',
      description: 'x <= 0',
      check: (s) => (s.x <= 0 ? null : { actual: s.x }),
      // @ts-expect-error a heal must return changes
      heal: () => 42,
    });
    const engine = createInvariantEngine([badCheck, badHeal, garbageHeal]);
    const report = engine.validate({ x: 1 }, { autoHeal: true });
    expect(report.consistent).toBe(false);
    expect(report.converged).toBe(false);
    const byPhase = report.issues.map((i) => `${i.invariantId}/${i.phase}`);
    expect(byPhase).toEqual([
      'bad-check/check',
      'bad-heal/check',
      'garbage-heal/check',
      'bad-heal/heal',
      'garbage-heal/heal',
    ]);
    expect(report.issues[0]?.details).toEqual({ error: 'boom' });
    expect(report.issues[0]?.error).toBeInstanceOf(Error);
    expect(report.issues[3]?.message).toContain('cannot heal');
  });

  it('check() lists violations without healing', () => {
    const state = { hits: 1, misses: 1, total: 1, expired: 0 };
    expect(
      createInvariantEngine(rules)
        .check(state)
        .map((i) => i.invariantId),
    ).toEqual(['total-is-sum']);
    expect(state.total).toBe(1);
  });
});
