// What this store knows of the attached session's record and lease — the
// version it last wrote and in which dataset epoch, the record itself, the
// lease id — shared by the write path (record-writes.ts), the heartbeat
// (heartbeat.ts) and the recovery after a server lost or rolled back its
// data (recovery.ts). Also the one queue the session's own operations run
// through, and the one way a take-over is noted.
import { randomUUID } from 'node:crypto';
import { type SessionLogger, type SessionRecord, SessionTakenOverError } from '@core/session';
import type { Connection } from './connection.js';
import type { KeyLayout } from './keys.js';
import type { LeaseRenewal } from './lease-renewal.js';
import type { ResolvedRedisOptions } from './options.js';
import type { ScriptReply } from './scripts.js';

/** What the own side needs from the store. */
export interface OwnLeaseContext {
  readonly connection: Connection;
  readonly keys: KeyLayout;
  readonly options: ResolvedRedisOptions;
  readonly location: string;
  readonly logger: SessionLogger;
  readonly emit: (renewal: LeaseRenewal) => void;
  /** Claims the given resources again (after the server lost its data). */
  readonly reclaim: (resources: readonly { kind: string; id: string }[]) => Promise<void>;
}

/** The attached session's record version, lease and take-over state. */
export class OwnRecord {
  /** Renewals, oldest first (bounded). */
  readonly renewals: LeaseRenewal[] = [];
  /** Set once a reaper took the record over: the reaper's id (null when unknown). */
  takenOverBy: string | null | undefined = undefined;
  sessionId: string | null = null;
  readonly leaseId = randomUUID();
  leaseActive = false;
  knownEpoch: string | null = null;
  /** Version of the record this store last wrote, and the epoch it was written in. */
  version: string | null = null;
  versionEpoch: string | null = null;
  lastRecord: SessionRecord | null = null;
  /**
   * After a rollback: the newest version this store had written before it, so
   * the next write moves past it (a compare-and-set token is never issued twice).
   */
  rolledBackFrom: string | null = null;
  /** The heartbeat's timer while the lease is kept alive. */
  timer: NodeJS.Timeout | null = null;
  stopped = false;
  /** The tail of the session's own operations (writes, removes, restores), one at a time. */
  queue: Promise<unknown> = Promise.resolve();
  /** Own operations queued or running (the hot path runs only when none is). */
  pending = 0;

  /** @param context - see {@link OwnLeaseContext} */
  constructor(readonly context: OwnLeaseContext) {}

  /** Runs `run` after every own operation queued before it. */
  exclusive<T>(run: () => Promise<T>): Promise<T> {
    this.pending++;
    const step = async () => {
      try {
        return await run();
      } finally {
        this.pending--;
      }
    };
    const next = this.queue.then(step, step);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Stops the heartbeat's timer. */
  stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Throws once a reaper holds the record. */
  refuseIfTakenOver(): void {
    if (this.takenOverBy !== undefined && this.sessionId !== null)
      throw new SessionTakenOverError(this.sessionId, this.takenOverBy);
  }

  /** A reply showed a reaper's doing: from now on nothing is written back and the lease is not kept. */
  markTakenOver(reply: ScriptReply): void {
    if (this.takenOverBy !== undefined) return;
    const match = reply[1] ? /"sessionId":"([^"]+)"/.exec(reply[1]) : null;
    this.takenOverBy = match ? (match[1] as string) : null;
    this.stopTimer();
    this.note(
      { outcome: 'taken-over', leaseId: null },
      `its record was taken over by a reaper${this.takenOverBy ? ` (${this.takenOverBy})` : ''} meanwhile, so nothing was written back; ` +
        'its resources are cleaned up by the reaper and this store refuses further writes',
    );
  }

  /** Records, logs and emits what became of the lease. */
  note(change: Pick<LeaseRenewal, 'outcome' | 'leaseId'>, what: string): void {
    const renewal: LeaseRenewal = { at: Date.now(), previousLeaseId: this.leaseId, ...change };
    this.renewals.push(renewal);
    if (this.renewals.length > 100) this.renewals.shift();
    this.context.logger.warn(
      { sessionId: this.sessionId, ...renewal },
      `session ${this.sessionId}: its lease ${this.leaseId} had expired or was lost; ${what}`,
    );
    try {
      this.context.emit(renewal);
    } catch (error) {
      this.warnBackground(error); // a listener's bug must not break the lease
    }
  }

  /** A background step failed: a connection error is part of the outage already logged once; anything else is news. */
  warnBackground(error: unknown): void {
    const code = (error as { code?: unknown }).code;
    const level = code === 'E_SESSION_STORE_UNAVAILABLE' ? 'debug' : 'warn';
    this.context.logger[level]?.(
      { err: error },
      `session store background step failed: ${(error as Error).message}`,
    );
  }
}
