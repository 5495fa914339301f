// This session's record: the in-memory copy is the owner's truth, the store
// holds the last state a write committed. Async writes run one after another;
// a sync write (the exit path) may land while an async one awaits its store,
// and the async one then applies its operation again on top of it, so neither
// change is lost.
import type { SessionOwner, SessionRecord, SessionStore } from './contract.js';
import { emptyRecord, ownsNothing, type RecordOperation } from './record-ops.js';

/** The owner's record and the ordered writes of it. */
export class OwnRecord {
  private record: SessionRecord | null = null;
  /** Bumped by every committed write. */
  private revision = 0;
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * @param store - where the record is written
   * @param owner - this session
   */
  constructor(
    private readonly store: SessionStore,
    private readonly owner: SessionOwner,
  ) {}

  /** The record as last committed (null: owns nothing, no record stored). */
  get current(): SessionRecord | null {
    return this.record;
  }

  /**
   * Applies `op` and writes the result whole (or removes the record when it
   * owns nothing), after every earlier async write.
   * @throws the store's `SessionError` (the in-memory record is then unchanged).
   */
  apply(op: RecordOperation): Promise<void> {
    const step = this.queue.then(async () => {
      for (;;) {
        const revision = this.revision;
        const base = this.record ?? emptyRecord(this.owner, Date.now());
        const next = op(base);
        if (next === base) return;
        const empty = ownsNothing(next);
        if (empty) {
          if (this.record !== null) await this.store.removeRecord(this.owner.sessionId);
        } else await this.store.writeRecord(next);
        if (this.revision !== revision) continue;
        this.commit(empty ? null : next);
        return;
      }
    });
    this.queue = step.catch(() => undefined);
    return step;
  }

  /** Sync {@link OwnRecord.apply}: false (warned by the store) when it could not be written. */
  applySync(op: RecordOperation): boolean {
    const base = this.record ?? emptyRecord(this.owner, Date.now());
    const next = op(base);
    if (next === base) return true;
    const empty = ownsNothing(next);
    const ok = empty
      ? this.record === null || this.store.removeRecordSync(this.owner.sessionId)
      : this.store.writeRecordSync(next);
    if (ok) this.commit(empty ? null : next);
    return ok;
  }

  private commit(next: SessionRecord | null): void {
    this.record = next;
    this.revision++;
  }
}
