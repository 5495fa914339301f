import { setTimeout as sleep } from 'node:timers/promises';
import type { ProbeOutcome } from './probe.js';

/** A probe: `probePort` or a stand-in with its contract. */
export type Probe = (host: string, port: number) => Promise<ProbeOutcome>;

/**
 * Pauses before each re-probe of a port that read `busy`. A peer's probe holds
 * a port for one bind/close, well under a millisecond; the later, longer pauses
 * cover a peer descheduled in the middle of it on a loaded machine.
 */
export const BUSY_RECHECK_DELAYS_MS: readonly number[] = [10, 50, 250];

/**
 * Wraps `probe` so that `busy` is believed only once it persists: a port that
 * reads busy is probed again after each of `delaysMs` until it reads otherwise.
 *
 * Why: @core/session claims optimistically, so the choosers of processes
 * reserving at once run at the same time and probe the same candidates. For
 * the instant one process's probe holds a free port, that port is busy to the
 * other, which would skip it or, probing all its candidates at once, give up
 * with none left. A real occupant is still there on the re-probe.
 */
export function confirmingBusy(probe: Probe, delaysMs: readonly number[] = BUSY_RECHECK_DELAYS_MS): Probe {
  return async (host, port) => {
    let outcome = await probe(host, port);
    for (const ms of delaysMs) {
      if (outcome !== 'busy') break;
      await sleep(ms);
      outcome = await probe(host, port);
    }
    return outcome;
  };
}
