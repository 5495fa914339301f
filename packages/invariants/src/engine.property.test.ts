import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createInvariantEngine, defineInvariant, type Invariant } from './index.js';

type State = Record<string, number>;
const FIELDS = ['a', 'b', 'c', 'd', 'e'] as const;

/**
 * Random rule families over five integer fields. Each heal only moves a value
 * toward the region its rule allows and never out of [0, 1000], so every
 * random set of them has a common fixpoint.
 */
const ruleArb: fc.Arbitrary<Invariant<State>> = fc.oneof(
  // x >= 0
  fc.constantFrom(...FIELDS).map((f) =>
    defineInvariant<State>({
      id: `${f}-non-negative`,
      description: `${f} >= 0`,
      check: (s) => ((s[f] ?? 0) >= 0 ? null : { actual: s[f] }),
      heal: (s) => {
        const from = s[f];
        s[f] = 0;
        return { field: f, from, to: 0 };
      },
    }),
  ),
  // x <= y  (heal: cap x at y)
  fc
    .tuple(fc.constantFrom(...FIELDS), fc.constantFrom(...FIELDS))
    .filter(([x, y]) => x !== y)
    .map(([x, y]) =>
      defineInvariant<State>({
        id: `${x}-le-${y}`,
        description: `${x} <= ${y}`,
        check: (s) => ((s[x] ?? 0) <= (s[y] ?? 0) ? null : { limit: s[y], actual: s[x] }),
        heal: (s) => {
          const from = s[x];
          s[x] = Math.max(0, s[y] ?? 0);
          return { field: x, from, to: s[x] };
        },
      }),
    ),
);

const ruleSetArb = fc.uniqueArray(ruleArb, { selector: (r) => r.id, minLength: 1, maxLength: 6 });
const stateArb = fc.record(
  Object.fromEntries(FIELDS.map((f) => [f, fc.integer({ min: -1000, max: 1000 })])),
) as fc.Arbitrary<State>;

describe('engine properties', () => {
  it('after a converged heal every rule holds', () => {
    fc.assert(
      fc.property(ruleSetArb, stateArb, (rules, state) => {
        const engine = createInvariantEngine(rules, { maxPasses: 64 });
        const report = engine.validate(state, { autoHeal: true });
        if (report.converged) {
          expect(engine.check(state)).toEqual([]);
          for (const rule of rules) expect(rule.check(state)).toBeNull();
        } else {
          expect(report.remaining.length).toBeGreaterThan(0);
        }
      }),
    );
  });

  it('healing is idempotent: healing a healed state changes nothing', () => {
    fc.assert(
      fc.property(ruleSetArb, stateArb, (rules, state) => {
        const engine = createInvariantEngine(rules, { maxPasses: 64 });
        const first = engine.validate(state, { autoHeal: true });
        fc.pre(first.converged);
        const after = structuredClone(state);
        const second = engine.validate(state, { autoHeal: true });
        expect(second.consistent).toBe(true);
        expect(second.healed).toEqual([]);
        expect(state).toEqual(after);
      }),
    );
  });

  it('autoHeal: false is pure', () => {
    fc.assert(
      fc.property(ruleSetArb, stateArb, (rules, state) => {
        const before = structuredClone(state);
        const report = createInvariantEngine(rules).validate(state, { autoHeal: false });
        expect(state).toEqual(before);
        expect(report.healed).toEqual([]);
        expect(report.consistent).toBe(report.issues.length === 0);
      }),
    );
  });

  it('consistent is false exactly when the first pass found a violation', () => {
    fc.assert(
      fc.property(ruleSetArb, stateArb, (rules, state) => {
        const violated = rules.some((r) => r.check(state) !== null);
        const report = createInvariantEngine(rules).validate(state, { autoHeal: true });
        expect(report.consistent).toBe(!violated);
      }),
    );
  });

  it('never runs more heal passes than the bound', () => {
    fc.assert(
      fc.property(ruleSetArb, stateArb, fc.integer({ min: 1, max: 4 }), (rules, state, maxPasses) => {
        const report = createInvariantEngine(rules, { maxPasses }).validate(state, { autoHeal: true });
        expect(report.passes).toBeLessThanOrEqual(maxPasses);
      }),
    );
  });
});
