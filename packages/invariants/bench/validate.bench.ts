import { formatNs, runBenchTable } from '@tooling/bench';
import { createInvariantEngine, defineInvariant } from '../src/index.js';

interface Counters {
  hits: number;
  misses: number;
  total: number;
  expired: number;
}

const rules = [
  defineInvariant<Counters>({
    id: 'total-is-sum',
    description: 'total == hits + misses',
    check: (s) => (s.total === s.hits + s.misses ? null : { expected: s.hits + s.misses, actual: s.total }),
    heal: (s, v) => {
      const from = s.total;
      s.total = v['expected'] as number;
      return { field: 'total', from, to: s.total };
    },
  }),
  defineInvariant<Counters>({
    id: 'expired-le-misses',
    description: 'expired <= misses',
    check: (s) => (s.expired <= s.misses ? null : { limit: s.misses, actual: s.expired }),
  }),
  defineInvariant<Counters>({
    id: 'non-negative',
    description: 'every counter >= 0',
    check: (s) =>
      s.hits >= 0 && s.misses >= 0 && s.total >= 0 && s.expired >= 0 ? null : { negative: true },
  }),
];
const engine = createInvariantEngine(rules);
const healthy: Counters = { hits: 60, misses: 40, total: 100, expired: 10 };
let sink = 0;

await runBenchTable({
  title: '@core/invariants — validate a 3-rule state',
  cases: [
    {
      name: 'hand-written inline comparisons',
      floor: true,
      fn: () => {
        const s = healthy;
        if (s.total === s.hits + s.misses && s.expired <= s.misses && s.hits >= 0 && s.misses >= 0) sink++;
      },
    },
    { name: 'engine.validate(healthy)', fn: () => void (engine.validate(healthy).consistent && sink++) },
    {
      name: 'engine.validate(healthy, { autoHeal: true })',
      fn: () => void (engine.validate(healthy, { autoHeal: true }).consistent && sink++),
    },
    {
      name: 'engine.validate(broken, { autoHeal: true }) — heals 1 field',
      fn: () => {
        const s = { hits: 60, misses: 40, total: 101, expired: 10 };
        if (engine.validate(s, { autoHeal: true }).converged) sink++;
      },
    },
  ],
  goals: [
    {
      label: 'validate a healthy 3-rule state well under 1 µs',
      check: (r) => {
        const ns = r.get('engine.validate(healthy)')!.nsPerOp;
        return { ok: ns < 500, measured: formatNs(ns) };
      },
    },
  ],
});
if (sink < 0) console.log(sink);
