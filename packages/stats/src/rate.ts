/**
 * `part / whole` as a rate in [0, 1], whatever the counters hold.
 *
 * Counters restored from a snapshot may break the invariants until they are
 * healed (a negative `cacheMisses`, `cacheExpired > cacheMisses`…), and
 * `validateConsistency({ autoHeal: false })` reports them as found. A rate
 * must still be a rate: a denominator that is not positive gives 0 (no
 * queries yet means no rate, not NaN), and a quotient outside
 * [0, 1] (a negative part, a part larger than the whole) is clamped to it.
 * Internal: the tracker's `currentState` and the Prometheus gauges share it.
 */
export function rate(part: number, whole: number): number {
  if (!(whole > 0) || !Number.isFinite(whole) || !Number.isFinite(part)) return 0;
  const quotient = part / whole;
  if (!(quotient > 0)) return 0;
  return Math.min(quotient, 1);
}
