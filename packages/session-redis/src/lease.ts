// The attached session's own side, as the store uses it: its record's writes
// (record-writes.ts), its lease's heartbeat (heartbeat.ts) and the recovery
// after the server lost or rolled back its data (recovery.ts), over one
// shared state (own-record.ts). A restored lease never writes back what was
// reaped: the lease is re-established only while the record is exactly what
// this store last wrote; once a reaper took it over, every write is refused.
import type { SessionRecord } from '@core/session';
import { Heartbeat } from './heartbeat.js';
import type { LeaseRenewal } from './lease-renewal.js';
import { type OwnLeaseContext, OwnRecord } from './own-record.js';
import { RecordWrites } from './record-writes.js';
import { Recovery } from './recovery.js';

export type { OwnLeaseContext } from './own-record.js';

/** The attached session's record version, lease and heartbeat. */
export class OwnLease {
  private readonly own: OwnRecord;
  private readonly recovery: Recovery;
  private readonly writes: RecordWrites;
  private readonly heartbeat: Heartbeat;

  /** @param context - see {@link OwnLeaseContext} */
  constructor(context: OwnLeaseContext) {
    this.own = new OwnRecord(context);
    this.recovery = new Recovery(this.own, (record, epoch) => this.writes.put(record, epoch));
    this.writes = new RecordWrites(this.own, this.recovery, () => this.heartbeat.start());
    this.heartbeat = new Heartbeat(this.own, this.recovery, async () => {
      const record = this.own.lastRecord;
      if (record !== null) await this.writes.writeQueued(record);
    });
    context.connection.events.on('ready', () => {
      void this.heartbeat.onReady();
    });
  }

  /** Renewals, oldest first (bounded). */
  get renewals(): LeaseRenewal[] {
    return this.own.renewals;
  }

  /** Set once a reaper took the record over: the reaper's id (null when unknown). */
  get takenOverBy(): string | null | undefined {
    return this.own.takenOverBy;
  }

  /** The lease id while a lease is held. */
  get activeLeaseId(): string | null {
    return this.own.leaseActive && this.own.takenOverBy === undefined ? this.own.leaseId : null;
  }

  /** Binds to the attached session. */
  attach(sessionId: string): void {
    this.own.sessionId = sessionId;
  }

  /** The lease id scripts set for `sessionId` (the attached session's; a tool without one gets a throw-away). */
  leaseIdFor(_sessionId: string | null): string {
    return this.own.leaseId;
  }

  /** A script set the lease: keep it alive from now on. */
  leaseSet(): void {
    this.heartbeat.start();
  }

  /** The dataset's epoch, created when the server has none. */
  epoch(): Promise<string> {
    return this.recovery.epoch();
  }

  /** A script saw another epoch than ours: the server lost (or swapped) its data. */
  epochChanged(current: string): void {
    this.recovery.epochChanged(current);
  }

  /** Writes the whole record (see `RedisSessionStore.writeRecord`). */
  write(record: SessionRecord): Promise<void> {
    return this.writes.write(record);
  }

  /** Removes the record (see `RedisSessionStore.removeRecord`). */
  remove(sessionId: string): Promise<boolean> {
    return this.writes.remove(sessionId);
  }

  /** Stops the heartbeat and waits for queued writes. */
  async stop(): Promise<void> {
    const { own } = this;
    own.stopped = true;
    own.stopTimer();
    await own.queue.catch(() => undefined);
    // A session that removed its record leaves no lease behind to expire on
    // its own: listings then show nothing of it at once. One that still has a
    // record keeps its lease until the TTL (its resources stay reapable then).
    if (own.sessionId === null || own.version !== null || !own.leaseActive) return;
    if (own.takenOverBy !== undefined) return;
    const { connection, keys } = own.context;
    const lease = keys.lease(own.sessionId);
    await connection
      .call(() => connection.script('coreDropLease', [lease], [own.leaseId]))
      .catch(() => undefined); // best effort: otherwise it expires after one TTL
    own.leaseActive = false;
  }
}
