import type { ServiceExit } from './restart-policy.js';

/** Who asked for an operator action, as the control socket's client stated it. */
export interface Requester {
  /** The client's user name. */
  readonly user: string;
  /** The client's pid. */
  readonly pid: number | null;
}

/** Why a service was restarted. */
export type RestartReason = 'exit' | 'unhealthy' | 'operator' | 'reload' | 'started';

/** One restart (or operator start) of a service. */
export interface RestartEntry {
  readonly at: number;
  readonly reason: RestartReason;
  /** How the replaced process ended (null when it was stopped on purpose or none ran). */
  readonly exit: ServiceExit | null;
  /** The operator who asked, for `operator` and `started`. */
  readonly by: Requester | null;
}

/** One health check's result. */
export interface HealthEntry {
  readonly at: number;
  readonly ok: boolean;
}

/** How many entries of each kind `describe` keeps. */
export const HISTORY_LENGTH = 20;

/**
 * The recent past of one service, for `describe`: its last restarts with
 * their reasons and exit codes, and its last health checks. Bounded: only
 * the latest {@link HISTORY_LENGTH} of each are kept.
 */
export class ServiceHistory {
  private readonly restartEntries: RestartEntry[] = [];
  private readonly healthEntries: HealthEntry[] = [];

  /** Carries on the history of the service this one replaces (a reload). */
  continueFrom(previous: ServiceHistory): void {
    this.restartEntries.push(...previous.restartEntries);
    this.healthEntries.push(...previous.healthEntries);
  }

  noteRestart(reason: RestartReason, exit: ServiceExit | null, by: Requester | null = null): void {
    push(this.restartEntries, { at: Date.now(), reason, exit, by });
  }

  noteHealth(ok: boolean): void {
    push(this.healthEntries, { at: Date.now(), ok });
  }

  get restarts(): readonly RestartEntry[] {
    return [...this.restartEntries];
  }

  get health(): readonly HealthEntry[] {
    return [...this.healthEntries];
  }
}

function push<T>(list: T[], entry: T): void {
  list.push(entry);
  if (list.length > HISTORY_LENGTH) list.splice(0, list.length - HISTORY_LENGTH);
}
