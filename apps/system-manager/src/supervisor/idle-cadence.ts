/**
 * When a recurring check is next due, backing off while all is well: the
 * interval doubles after each check that finds nothing to do, from `baseMs`
 * up to `idleMs`, and drops back to `baseMs` at once when one does. Checking
 * what has not changed is most of what an idle supervisor does; this keeps
 * that cost down without slowing the reaction to a problem once one is seen.
 *
 * Liveness checks use it: a service that stops answering is declared
 * unhealthy after at most `idleMs + (unhealthyAfter - 1) * baseMs` (an exit is
 * seen at once, from the child's exit event). So does the invariant check.
 */
export class IdleCadence {
  private current: number;

  constructor(
    private readonly baseMs: number,
    private readonly idleMs: number,
  ) {
    this.current = baseMs;
  }

  /** The delay before the first check, and after anything that resets the cadence (a restart). */
  reset(): number {
    this.current = this.baseMs;
    return this.current;
  }

  /** The delay after a check that found all well (`true`) or did not. */
  next(allWell: boolean): number {
    this.current = allWell ? Math.min(this.current * 2, Math.max(this.idleMs, this.baseMs)) : this.baseMs;
    return this.current;
  }
}
