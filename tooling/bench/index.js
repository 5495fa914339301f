// @ts-check
// A batched timer rather than tinybench: tinybench times every call with
// performance.now(), whose own ~40 ns swamps the 5–200 ns operations our
// benches compare (bare await, field increment, Counter.inc()). Timing a batch
// of calls and dividing keeps the timer out of the number.

const now = () => process.hrtime.bigint();

/** @param {number[]} xs */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2
    ? /** @type {number} */ (s[mid])
    : /** @type {number} */ (s[mid - 1] + /** @type {number} */ (s[mid])) / 2;
}

/**
 * @param {() => unknown} fn
 * @param {number} n
 */
async function timeBatch(fn, n) {
  const first = fn();
  const isAsync = first instanceof Promise;
  if (isAsync) await first;
  const start = now();
  if (isAsync) {
    for (let i = 0; i < n; i++) await fn();
  } else {
    for (let i = 0; i < n; i++) fn();
  }
  return Number(now() - start) / n;
}

/**
 * @param {import('./index.js').BenchCase} benchCase
 * @param {{ batchMs: number, rounds: number }} options
 * @returns {Promise<import('./index.js').BenchResult>}
 */
async function measure(benchCase, { batchMs, rounds }) {
  await benchCase.setup?.();
  // Calibrate: grow the batch until one takes batchMs.
  let n = 1;
  for (;;) {
    const ns = await timeBatch(benchCase.fn, n);
    if (ns * n >= batchMs * 1e6 || n >= 1 << 24) break;
    n *= 2;
  }
  const samples = [];
  for (let r = 0; r < rounds; r++) samples.push(await timeBatch(benchCase.fn, n));
  await benchCase.teardown?.();
  const sorted = [...samples].sort((a, b) => a - b);
  const nsPerOp = median(samples);
  return {
    name: benchCase.name,
    nsPerOp,
    opsPerSec: 1e9 / nsPerOp,
    p10: /** @type {number} */ (sorted[Math.floor(sorted.length * 0.1)]),
    p90: /** @type {number} */ (sorted[Math.floor(sorted.length * 0.9)]),
    batch: n,
    rounds,
  };
}

/** @param {number} ns */
export function formatNs(ns) {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(1)} ns`;
}

/** @param {import('./index.js').BenchTableOptions} options */
export async function runBenchTable(options) {
  const { title, cases, goals = [], batchMs = 20, rounds = 25 } = options;
  /** @type {Map<string, import('./index.js').BenchResult>} */
  const results = new Map();
  for (const c of cases) {
    process.stderr.write(`  measuring ${c.name} …\n`);
    results.set(c.name, await measure(c, { batchMs: c.batchMs ?? batchMs, rounds: c.rounds ?? rounds }));
  }
  const floorCase = cases.find((c) => c.floor);
  const floor = floorCase ? results.get(floorCase.name) : undefined;
  const lines = [
    `### ${title}`,
    '',
    '| case | median / op | ops/s | × floor | p10–p90 |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const c of cases) {
    const r = /** @type {import('./index.js').BenchResult} */ (results.get(c.name));
    const ratio = floor ? (r.nsPerOp / floor.nsPerOp).toFixed(2) : '—';
    const ops =
      r.opsPerSec >= 1e6
        ? `${(r.opsPerSec / 1e6).toFixed(2)} M`
        : r.opsPerSec >= 1e3
          ? `${(r.opsPerSec / 1e3).toFixed(1)} k`
          : r.opsPerSec.toFixed(1);
    lines.push(
      `| ${c.name}${c.floor ? ' (floor)' : ''} | ${formatNs(r.nsPerOp)} | ${ops} | ${ratio} | ${formatNs(r.p10)}–${formatNs(r.p90)} |`,
    );
  }
  let allMet = true;
  if (goals.length > 0) {
    lines.push('', '| goal | measured | met |', '|---|---|:---:|');
    for (const goal of goals) {
      const verdict = goal.check(results);
      allMet &&= verdict.ok;
      lines.push(`| ${goal.label} | ${verdict.measured} | ${verdict.ok ? 'yes' : '**no**'} |`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
  return { results, allMet };
}
