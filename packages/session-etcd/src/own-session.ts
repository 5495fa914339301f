// The attached session's own side: its record's compare-and-set token (the
// record key's modRevision as this store last wrote it), its lease marker,
// and what happens when the lease is lost. Two rules:
// - a write lands only while the record is exactly what this store last
//   wrote, no reaper's mark is on it, and the lease marker is attached to
//   this store's live lease — one transaction checks all three;
// - a lost lease is replaced only while the record is untouched and
//   unmarked: a restored lease never writes back what was reaped. Once a
//   reaper took the record over, every write is refused for good.
// A claim lives on the lease, the record that lists it is written after it:
// claims not yet in a written record are remembered, so a lease replaced in
// between makes them again too.
import { type SessionLogger, type SessionRecord, SessionTakenOverError } from '@core/session';
import { parseReaping, serializeRecord } from './codec.js';
import type { Connection } from './connection.js';
import { EtcdLeaseConflictError, EtcdStoreCorruptError } from './errors.js';
import type { KeyLayout } from './keys.js';
import { type Entry, is, op, type TxnResult, txn } from './kv.js';
import type { OwnLease } from './lease.js';
import type { LeaseRenewal } from './renewal.js';

/** What the own side needs from the store. */
export interface OwnSessionContext {
  readonly connection: Connection;
  readonly keys: KeyLayout;
  readonly lease: OwnLease;
  readonly logger: SessionLogger;
  readonly emit: (renewal: LeaseRenewal) => void;
  /** Claims the given resources again under the current lease (after the old one expired). */
  readonly reclaim: (resources: readonly { kind: string; id: string }[]) => Promise<void>;
}

/** The attached session's record token, lease marker and lease replacement. */
export class OwnSession {
  /** Renewals, oldest first (bounded). */
  readonly renewals: LeaseRenewal[] = [];
  /** Set once a reaper took the record over: the reaper's id (null when unknown). */
  takenOverBy: string | null | undefined = undefined;

  private sessionId: string | null = null;
  /** modRevision of the record as this store last wrote it (null: none written, or removed). */
  private revision: string | null = null;
  private lastRecord: SessionRecord | null = null;
  private markerLease: string | null = null;
  /** Claims of this session that no written record lists yet (`kind id`). */
  private readonly unrecorded = new Map<string, { kind: string; id: string }>();
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;

  /** @param context - see {@link OwnSessionContext} */
  constructor(private readonly context: OwnSessionContext) {}

  /** Binds to the attached session. */
  attach(sessionId: string): void {
    this.sessionId = sessionId;
  }

  /** The lease this session holds, with its marker, granted when there is none. */
  async leaseWithMarker(): Promise<string> {
    const id = await this.context.lease.current();
    if (this.markerLease === id || this.sessionId === null) return id;
    return this.exclusive(() => this.ensureMarker());
  }

  /**
   * Remembers a claim about to be made until a written record lists it or it
   * is released: a lease replaced meanwhile makes it again.
   * @returns forget - for a claim that was not made after all.
   */
  claiming(kind: string, id: string): () => void {
    const key = `${kind} ${id}`;
    this.unrecorded.set(key, { kind, id });
    return () => this.unrecorded.delete(key);
  }

  /** Writes the whole record (see `EtcdSessionStore.writeRecord`). */
  write(record: SessionRecord): Promise<void> {
    return this.exclusive(async () => {
      this.refuseIfTakenOver();
      const { connection, keys } = this.context;
      const text = serializeRecord(record);
      const recordKey = keys.record(record.sessionId);
      for (let attempt = 0; attempt < 4; attempt++) {
        const lease = await this.ensureMarker();
        const reply = await connection.call(() =>
          txn(
            connection,
            [
              this.revision === null ? is.absent(recordKey) : is.modifiedAt(recordKey, this.revision),
              is.absent(keys.reaping(record.sessionId)),
              is.leasedTo(keys.lease(record.sessionId), lease),
            ],
            [op.put(recordKey, text)],
            [op.get(recordKey), op.get(keys.reaping(record.sessionId)), op.get(keys.lease(record.sessionId))],
          ),
        );
        if (reply.succeeded) {
          this.written(reply.revision, record);
          return;
        }
        const [stored, reaping, marker] = entries(reply);
        if (reaping !== undefined) {
          const mark = parseReaping(reaping.value, reaping.lease);
          // A mark no reaper wrote does not end this session; it blocks writes until someone removes it.
          if (!mark.ok) throw new EtcdStoreCorruptError(reaping.key, mark.reason);
          this.markTakenOver(reaping);
        }
        if (stored !== undefined && stored.value === text && stored.modRevision !== this.revision) {
          // Our previous attempt landed but its reply was lost (the call was retried): it is written.
          this.written(stored.modRevision, record);
          return;
        }
        if (this.revision === null && stored !== undefined)
          throw new EtcdLeaseConflictError(
            record.sessionId,
            'a record of this session exists that this store did not write',
          );
        if (this.revision !== null && stored?.modRevision !== this.revision) this.markTakenOver(undefined);
        this.refuseIfTakenOver();
        if (marker?.lease !== lease) await this.replaceLease(lease); // the lease went: take the next one
      }
      throw new EtcdStoreCorruptError(recordKey, 'the lease was lost on every attempt of one write');
    });
  }

  /** Removes the record (see `EtcdSessionStore.removeRecord`). */
  remove(sessionId: string): Promise<boolean> {
    return this.exclusive(async () => {
      if (this.takenOverBy !== undefined || this.revision === null) return false;
      const { connection, keys } = this.context;
      const recordKey = keys.record(sessionId);
      const reply = await connection.call(() =>
        txn(
          connection,
          [is.modifiedAt(recordKey, this.revision as string), is.absent(keys.reaping(sessionId))],
          [op.del(recordKey)],
          [op.get(recordKey), op.get(keys.reaping(sessionId))],
        ),
      );
      const [stored, reaping] = entries(reply);
      if (reply.succeeded || (stored === undefined && reaping === undefined)) {
        // Gone: removed now, or by our earlier attempt whose reply was lost, or by a reaper that
        // finished it. Whichever: nothing of ours is written back.
        this.revision = null;
        this.lastRecord = null;
        return reply.succeeded;
      }
      this.markTakenOver(reaping);
      return false;
    });
  }

  /** The lease expired on the server: take a new one if nobody took the record over. Never throws. */
  onExpired(leaseId: string): void {
    void this.exclusive(async () => {
      if (this.stopped || this.takenOverBy !== undefined || this.markerLease !== leaseId) return;
      await this.replaceLease(leaseId);
    }).catch((error: unknown) => this.warnBackground(error));
  }

  /** Stops replacing leases and waits for queued writes. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.queue.catch(() => undefined);
  }

  /** Whether a record of this session is stored (as this store wrote it). */
  get hasRecord(): boolean {
    return this.revision !== null;
  }

  // ---- internals ------------------------------------------------------------------

  private exclusive<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The current lease with this session's marker on it (put once per lease). */
  private async ensureMarker(): Promise<string> {
    const lease = await this.context.lease.current();
    if (this.markerLease === lease || this.sessionId === null) return lease;
    if (this.markerLease !== null) return this.replaceLease(this.markerLease);
    const { connection, keys } = this.context;
    // The first lease of a session: nothing of it can have been reaped yet.
    await connection.call(() =>
      connection.client.kv.put({
        key: Buffer.from(keys.lease(this.sessionId as string)),
        value: Buffer.from(lease),
        lease,
      }),
    );
    this.markerLease = lease;
    return lease;
  }

  /**
   * The lease `lost` is gone: a new lease and marker take its place, in one
   * transaction that requires the record to be untouched and unmarked; the
   * claims of the last record are made again under it.
   * @returns the new lease. @throws SessionTakenOverError when a reaper got there first.
   */
  private async replaceLease(lost: string): Promise<string> {
    const sessionId = this.sessionId as string;
    const { connection, keys, lease } = this.context;
    const current = await lease.current();
    const next = current === lost ? await lease.grant() : current;
    const recordKey = keys.record(sessionId);
    const reply: TxnResult = await connection.call(() =>
      txn(
        connection,
        [
          this.revision === null ? is.absent(recordKey) : is.modifiedAt(recordKey, this.revision),
          is.absent(keys.reaping(sessionId)),
        ],
        [op.put(keys.lease(sessionId), next, next)],
        [op.get(keys.reaping(sessionId))],
      ),
    );
    if (!reply.succeeded) {
      this.markTakenOver(entries(reply)[0]);
      await lease.release(true);
      this.refuseIfTakenOver();
    }
    this.markerLease = next;
    const claimed = [
      ...(this.lastRecord?.resources ?? []).filter((r) => r.claimed),
      ...this.unrecorded.values(),
    ];
    if (claimed.length > 0) await this.context.reclaim(claimed);
    this.note(
      { outcome: 'kept', previousLeaseId: lost, leaseId: next },
      `nobody had taken its record over, so lease ${next} took its place (${claimed.length} claims made again)`,
    );
    return next;
  }

  private written(revision: string, record: SessionRecord): void {
    this.revision = revision;
    this.lastRecord = record;
    for (const r of record.resources) if (r.claimed) this.unrecorded.delete(`${r.kind} ${r.id}`);
  }

  private refuseIfTakenOver(): void {
    if (this.takenOverBy !== undefined && this.sessionId !== null)
      throw new SessionTakenOverError(this.sessionId, this.takenOverBy);
  }

  private markTakenOver(reaping: Entry | undefined): void {
    if (this.takenOverBy !== undefined) return;
    const mark = reaping === undefined ? null : parseReaping(reaping.value, reaping.lease);
    this.takenOverBy = mark?.ok ? mark.value.by.sessionId : null;
    const previous = this.markerLease ?? this.context.lease.leaseId ?? '';
    // Dead to the fleet: the keepalive stops and the lease (with any claim left on it) expires.
    void this.context.lease.release(false);
    this.note(
      { outcome: 'taken-over', previousLeaseId: previous, leaseId: null },
      `its record was taken over by a reaper${this.takenOverBy ? ` (${this.takenOverBy})` : ''} meanwhile, so nothing was written back; ` +
        'its resources are cleaned up by the reaper and this store refuses further writes',
    );
  }

  private note(change: Omit<LeaseRenewal, 'at'>, what: string): void {
    const renewal: LeaseRenewal = { at: Date.now(), ...change };
    this.renewals.push(renewal);
    if (this.renewals.length > 100) this.renewals.shift();
    this.context.logger.warn(
      { sessionId: this.sessionId, ...renewal },
      `session ${this.sessionId}: its lease ${change.previousLeaseId} was lost; ${what}`,
    );
    try {
      this.context.emit(renewal);
    } catch (error) {
      this.warnBackground(error); // a listener's bug must not break the lease
    }
  }

  private warnBackground(error: unknown): void {
    const code = (error as { code?: unknown }).code;
    const level =
      code === 'E_SESSION_STORE_UNAVAILABLE' || code === 'E_SESSION_TAKEN_OVER' ? 'debug' : 'warn';
    this.context.logger[level]?.(
      { err: error },
      `session store background step failed: ${(error as Error).message}`,
    );
  }
}

/** The first entry of each range of a reply (undefined: the key was absent). */
function entries(reply: TxnResult): (Entry | undefined)[] {
  return reply.ranges.map((range) => range[0]);
}
