import type { ServiceConfig } from '../config.js';

/** How a service ended, as `/status` shows it. */
export interface ServiceExit {
  readonly code: number | null;
  readonly signal: string | null;
  readonly at: number;
}

/** Errnos of a spawn that failed for want of descriptors (EMFILE, ENFILE) or processes (EAGAIN). */
const RESOURCE_ERRNOS = new Set(['EMFILE', 'ENFILE', 'EAGAIN']);

/**
 * The errno when `error` (or an error in its `cause` chain) says the system
 * is out of descriptors or processes, or `undefined` for any other failure.
 * Such a spawn failure says nothing about the service: it is retried, not
 * counted as a crash.
 */
export function resourceErrno(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && RESOURCE_ERRNOS.has(code)) return code;
  }
  return undefined;
}

/** Delays between spawns that failed for want of resources: 100 ms doubling to 5 s. */
export const RESOURCE_BACKOFF = { initialMs: 100, maxMs: 5_000 } as const;

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
 * Spawns that fail for want of resources (see {@link resourceErrno}) have
 * a backoff of their own ({@link RESOURCE_BACKOFF}) and count neither
 * against `maxRestarts` nor towards the crash backoff.
 *
 * Pure bookkeeping with an injected clock, so the arithmetic is tested
 * without processes.
 */
export class RestartPolicy {
  private recent: number[] = [];
  private consecutive = 0;
  private healthySince: number | null = null;
  private resourceFailures = 0;

  constructor(
    private readonly config: Pick<ServiceConfig, 'restart' | 'maxRestarts' | 'restartWindowMs' | 'backoff'>,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A spawn failed for want of descriptors or processes: the delay before
   * the next try (100 ms doubling to 5 s) and which try that is. The crash
   * bookkeeping is left as it is.
   */
  resourceError(): { readonly delayMs: number; readonly attempt: number } {
    const { initialMs, maxMs } = RESOURCE_BACKOFF;
    const delayMs = Math.min(maxMs, initialMs * 2 ** Math.min(this.resourceFailures, 30));
    this.resourceFailures += 1;
    return { delayMs, attempt: this.resourceFailures };
  }

  /** An operator started the service again: its crash history starts over. */
  reset(): void {
    this.recent = [];
    this.consecutive = 0;
    this.healthySince = null;
  }

  /** A spawn succeeded: the next resource error waits the shortest delay again. */
  spawned(): void {
    this.resourceFailures = 0;
  }

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
