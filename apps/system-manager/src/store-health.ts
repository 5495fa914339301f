import type { FleetStore } from './fleet-store.js';
import type { Logger } from './logger.js';

/** The session store as `/status` shows it: whether it answers, since when, and the last error. */
export interface StoreHealthStatus {
  readonly up: boolean;
  /** When the current state (up or down) began, epoch ms; null before the first operation. */
  readonly since: number | null;
  readonly lastError: string | null;
}

/** Counters of the session store for `/metrics`. */
export interface StoreCounters {
  /** Outages seen (each logged once when it began and once when it ended). */
  readonly outages: number;
  /** Store operations of this manager that failed (heartbeats, registrations). */
  readonly failures: number;
}

/**
 * Tracks whether the session store answers, from the outcome of every store
 * operation the manager makes (and, for a fleet store, the store's own connection
 * events). A failing store is a degraded state, never a crash: it is logged
 * once when it begins and once when it ends, and shown in `/status`.
 */
export class StoreHealth {
  private up = true;
  private since: number | null = null;
  private lastError: string | null = null;
  private outages = 0;
  private failures = 0;
  private readonly recoveredListeners: (() => void)[] = [];
  /** Set while the manager closes the store itself: its connection going away is no outage. */
  private closing = false;

  constructor(private readonly log: Logger) {}

  /** Follows a fleet store's connection events (Redis, etcd), so an outage shows even between operations. */
  follow(store: FleetStore | undefined): void {
    if (!store || typeof store.on !== 'function') return;
    store.on('outage', ({ error }) =>
      this.down(error ?? new Error('connection to the session registry lost'), 'connection'),
    );
    store.on('reconnected', () => this.recovered());
  }

  /** Runs `recovered` listeners after an outage ends (e.g. re-register what the store lost). */
  onRecovered(listener: () => void): void {
    this.recoveredListeners.push(listener);
  }

  /** Runs one store operation; a failure is recorded (and logged once per outage), never thrown. */
  async attempt<T>(
    operation: string,
    run: () => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    try {
      const value = await run();
      this.recovered();
      return { ok: true, value };
    } catch (error) {
      this.failures += 1;
      this.down(error, operation);
      return { ok: false, error };
    }
  }

  /** The manager is about to close the store: stop reporting its state. */
  close(): void {
    this.closing = true;
  }

  /** The manager starts (again): report the store's state. */
  reopen(): void {
    this.closing = false;
  }

  /** A store operation failed. */
  down(error: unknown, operation: string): void {
    if (this.closing) return;
    const message = error instanceof Error ? error.message : String(error);
    this.lastError = `${operation}: ${message}`;
    if (!this.up) return;
    this.up = false;
    this.since = Date.now();
    this.outages += 1;
    const code = (error as { code?: unknown }).code;
    this.log.error(
      { code, operation, err: message },
      'session store unavailable: services keep running, the session is re-registered when it is back',
    );
  }

  /** A store operation succeeded. */
  recovered(): void {
    const now = Date.now();
    if (this.up) {
      this.since ??= now;
      return;
    }
    const downtimeMs = this.since === null ? null : now - this.since;
    this.up = true;
    this.since = now;
    this.log.info({ downtimeMs }, 'session store available again');
    for (const listener of this.recoveredListeners) {
      try {
        listener();
      } catch (error) {
        this.log.error({ err: error }, 'store recovery handler failed');
      }
    }
  }

  status(): StoreHealthStatus {
    return { up: this.up, since: this.since, lastError: this.lastError };
  }

  counters(): StoreCounters {
    return { outages: this.outages, failures: this.failures };
  }
}
