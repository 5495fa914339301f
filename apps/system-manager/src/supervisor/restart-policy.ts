import type { ServiceConfig } from '../config.js';

/** How a service ended, as `/status` shows it. */
export interface ServiceExit {
  readonly code: number | null;
  readonly signal: string | null;
  readonly at: number;
}

/** What the supervisor does next after a service exited or was found unhealthy. */
export type RestartDecision =
  | { readonly action: 'restart'; readonly delayMs: number; readonly attempt: number }
  | { readonly action: 'stay-down'; readonly reason: string }
  | { readonly action: 'fail'; readonly reason: string };

/**
 * The restart policy of one service: which exits are restarted, exponential
 * backoff (`initialMs` doubling to `maxMs`, back to `initialMs` after the
 * service has been healthy for `resetAfterMs`), and at most `maxRestarts`
 * within `restartWindowMs`, after which the service is failed.
 *
 * Pure bookkeeping with an injected clock, so the arithmetic is tested
 * without processes.
 */
export class RestartPolicy {
  private recent: number[] = [];
  private consecutive = 0;
  private healthySince: number | null = null;

  constructor(
    private readonly config: Pick<ServiceConfig, 'restart' | 'maxRestarts' | 'restartWindowMs' | 'backoff'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The service passed a health check (start of a healthy stretch, if not already in one). */
  markHealthy(): void {
    this.healthySince ??= this.now();
  }

  /** The service stopped being healthy (exited, or failed its liveness checks). */
  private endHealthy(): void {
    const now = this.now();
    // Healthy long enough: the next crash is a fresh one, not part of a crash loop.
    if (this.healthySince !== null && now - this.healthySince >= this.config.backoff.resetAfterMs)
      this.consecutive = 0;
    this.healthySince = null;
  }

  /**
   * Decides what follows an exit (`exit`) or a liveness failure (`exit` undefined:
   * the process still runs but stopped answering).
   */
  decide(exit: ServiceExit | undefined): RestartDecision {
    this.endHealthy();
    const policy = this.config.restart;
    if (policy === 'never') return { action: 'stay-down', reason: 'restart policy "never"' };
    if (exit !== undefined && policy === 'on-failure' && exit.code === 0 && exit.signal === null)
      return { action: 'stay-down', reason: 'exited with code 0 (restart policy "on-failure")' };
    const now = this.now();
    this.recent = this.recent.filter((at) => now - at < this.config.restartWindowMs);
    if (this.recent.length >= this.config.maxRestarts) {
      return {
        action: 'fail',
        reason: `${this.recent.length} restarts within ${this.config.restartWindowMs} ms (maxRestarts ${this.config.maxRestarts})`,
      };
    }
    this.recent.push(now);
    const { initialMs, maxMs } = this.config.backoff;
    const delayMs = Math.min(maxMs, initialMs * 2 ** Math.min(this.consecutive, 30));
    this.consecutive += 1;
    return { action: 'restart', delayMs, attempt: this.consecutive };
  }
}
