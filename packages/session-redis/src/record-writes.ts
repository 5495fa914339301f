// The attached session's writes of its own record: compare-and-set on the
// version this store last wrote, so a record a reaper took over is never
// written back (every write is then refused with SessionTakenOverError).
// - fast path: nothing else of this session in flight and nothing unusual —
//   one script call that checks the version, writes and refreshes the lease;
// - general path (first write, a take-over, a lost dataset, an outage, a
//   fast attempt that failed): queued behind the session's other own
//   operations, with the epoch checked and the reply explained.
import { randomUUID } from 'node:crypto';
import { type SessionRecord, SessionTakenOverError } from '@core/session';
import { serializeRecord } from './codec.js';
import { RedisLeaseConflictError, RedisStoreCorruptError } from './errors.js';
import type { OwnRecord } from './own-record.js';
import type { Recovery } from './recovery.js';
import type { ScriptReply } from './scripts.js';
import { nextVersion } from './versions.js';

/** Writes and removes the attached session's record. */
export class RecordWrites {
  /**
   * @param own - the shared record state
   * @param recovery - the epoch and the rollback checks (a write that meets a lost dataset or an older snapshot)
   * @param leaseSet - a write set the lease: keep it alive from now on
   */
  constructor(
    private readonly own: OwnRecord,
    private readonly recovery: Recovery,
    private readonly leaseSet: () => void,
  ) {}

  /** Writes the whole record (see `RedisSessionStore.writeRecord`). */
  write(record: SessionRecord): Promise<void> {
    if (this.own.pending === 0 && this.canWriteFast()) return this.writeFast(record);
    return this.writeQueued(record);
  }

  /** Writes the record through the general path, after every own operation queued before it. */
  writeQueued(record: SessionRecord): Promise<void> {
    const { own, recovery } = this;
    return own.exclusive(async () => {
      own.refuseIfTakenOver();
      const started = Date.now();
      for (let attempt = 0; attempt < 4; attempt++) {
        const epoch = own.knownEpoch ?? (await recovery.epoch()); // no extra await on the hot path
        if (own.version !== null && own.versionEpoch !== epoch) await recovery.forgetLostVersion();
        const reply = await this.put(record, epoch, started);
        if (reply[0] === 'ok') return;
        if (reply[0] === 'changed' && own.version !== null && reply[1] === nextVersion(own.version)) {
          // Our previous attempt landed but its reply was lost (a command timeout): only this
          // owner moves its record one step without a reaper's mark. Write again on top of it.
          own.version = reply[1];
          continue;
        }
        if (reply[0] === 'changed' && (await recovery.adoptRollback(reply[1] ?? ''))) continue;
        if (reply[0] !== 'epoch') this.refuse(reply, record.sessionId);
      }
      throw new RedisStoreCorruptError(
        own.context.keys.epoch,
        'the epoch changed on every attempt of one write',
      );
    });
  }

  /** Removes the record (see `RedisSessionStore.removeRecord`). */
  remove(sessionId: string): Promise<boolean> {
    const { own, recovery } = this;
    return own.exclusive(async () => {
      if (own.takenOverBy !== undefined) return false;
      const { connection, keys } = own.context;
      for (let attempt = 0; attempt < 4; attempt++) {
        const epoch = await recovery.epoch();
        if (own.version !== null && own.versionEpoch !== epoch) await recovery.forgetLostVersion();
        const reply = (await connection.call(() =>
          connection.script(
            'coreRemoveRecord',
            [keys.epoch, keys.record(sessionId), keys.sessions],
            [epoch, own.version ?? '', sessionId],
          ),
        )) as ScriptReply;
        switch (reply[0]) {
          case 'ok':
            own.version = null;
            own.rolledBackFrom = null;
            own.lastRecord = null;
            return true;
          case 'missing':
            return false;
          case 'epoch':
            recovery.epochChanged(reply[1] ?? '');
            continue;
          default:
            if (own.version === null) return false; // a record this store never wrote: not ours to remove
            if (reply[0] === 'changed' && reply[1] === '') {
              // Gone already: our earlier attempt whose reply was lost, or a reaper that finished it.
              // Either way what we wanted holds; nothing of ours is written back.
              own.version = null;
              own.lastRecord = null;
              return true;
            }
            if (reply[0] === 'changed' && (await recovery.adoptRollback(reply[1] ?? ''))) continue; // remove that one
            own.markTakenOver(reply);
            return false;
        }
      }
      return false;
    });
  }

  /**
   * Writes `record` under `epoch`: the fast script when this store has a
   * version, else (or when it refuses) the general one, which says why.
   */
  async put(record: SessionRecord, epoch: string, started = Date.now()): Promise<ScriptReply> {
    const { own } = this;
    const { connection, keys, options } = own.context;
    const text = this.serialize(record);
    // After a rollback the next version moves past every one issued before it.
    const next = own.version === null ? null : nextVersion(own.rolledBackFrom ?? own.version);
    if (next !== null) {
      const done = await connection.call(
        () =>
          connection.script(
            'corePutRecordFast',
            [keys.record(record.sessionId), keys.lease(record.sessionId)],
            [own.version as string, next, text, own.leaseId, options.leaseTtlMs],
          ),
        started,
      );
      if (done === 1) {
        own.version = next;
        own.rolledBackFrom = null;
        own.lastRecord = record;
        this.leaseSet();
        return ['ok', next];
      }
    }
    const reply = (await connection.call(
      () =>
        connection.script(
          'corePutRecord',
          [keys.epoch, keys.record(record.sessionId), keys.lease(record.sessionId), keys.sessions],
          [epoch, own.version ?? '', text, own.leaseId, options.leaseTtlMs, record.sessionId, randomUUID()],
        ),
      started,
    )) as ScriptReply;
    if (reply[0] === 'ok') {
      own.version = reply[1] as string;
      own.rolledBackFrom = null;
      own.versionEpoch = epoch;
      own.lastRecord = record;
      this.leaseSet();
    } else if (reply[0] === 'epoch') this.recovery.epochChanged(reply[1] ?? '');
    return reply;
  }

  private canWriteFast(): boolean {
    const { own } = this;
    return (
      own.version !== null &&
      own.takenOverBy === undefined &&
      own.versionEpoch === own.knownEpoch &&
      own.rolledBackFrom === null &&
      own.context.connection.connected
    );
  }

  /** The record as stored: JSON, signed when the fleet has a key. */
  private serialize(record: SessionRecord): string {
    const { keys, options } = this.own.context;
    return serializeRecord(record, { key: keys.record(record.sessionId), signer: options.signer });
  }

  private writeFast(record: SessionRecord): Promise<void> {
    const { own } = this;
    const { connection, keys, options } = own.context;
    const expected = own.version as string;
    const next = nextVersion(expected);
    if (next === null) return this.writeQueued(record);
    own.pending++;
    // The queue waits for the attempt only, never for the fallback: the fallback queues itself
    // behind it (waiting on a promise that contains the fallback would deadlock).
    const attempt = connection
      .script(
        'corePutRecordFast',
        [keys.record(record.sessionId), keys.lease(record.sessionId)],
        [expected, next, this.serialize(record), own.leaseId, options.leaseTtlMs],
      )
      .then(
        (reply) => {
          own.pending--;
          if (reply !== 1) return false; // the general script says why
          own.version = next;
          own.lastRecord = record;
          if (own.timer === null) this.leaseSet();
          return true;
        },
        () => {
          own.pending--;
          return false; // a lost connection or a timeout: the general path waits for the server
        },
      );
    own.queue = attempt;
    return attempt.then((written) => (written ? undefined : this.writeQueued(record)));
  }

  /** A non-ok reply of a write: throws the matching error (and remembers a take-over). */
  private refuse(reply: ScriptReply, sessionId: string): never {
    const { own } = this;
    if (reply[0] === 'lease-conflict')
      throw new RedisLeaseConflictError(
        sessionId,
        `another holder has a live lease ${reply[1]} under this session's id`,
      );
    if (reply[0] === 'corrupt')
      throw new RedisStoreCorruptError(
        own.context.keys.record(sessionId),
        `version ${JSON.stringify(reply[1])}`,
      );
    if (own.version === null && reply[0] === 'changed')
      throw new RedisLeaseConflictError(
        sessionId,
        'a record of this session exists that this store did not write',
      );
    own.markTakenOver(reply);
    own.refuseIfTakenOver();
    throw new SessionTakenOverError(sessionId, null);
  }
}
