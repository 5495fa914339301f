// After the server lost or rolled back its data, the attached session's
// record and claims are written again — never over a reaper's doing:
// - versions carry the dataset's epoch: after a restart without persistence
//   (a new epoch), the last written record and its claims are written again
//   under the new epoch, and versions read before the restart never match;
// - after a restart from an older snapshot (same epoch: the record went back
//   to an earlier version of this owner's own, or vanished while this owner
//   still holds the lease), the record and its claims are written again too,
//   under a version past every one issued before — never when a reaper's
//   mark, a reaper's version or no lease of ours is what the server shows.
import { randomUUID } from 'node:crypto';
import type { SessionRecord } from '@core/session';
import { isToken } from './codec.js';
import { RedisStoreCorruptError } from './errors.js';
import type { OwnRecord } from './own-record.js';
import type { ScriptReply } from './scripts.js';
import { isEarlierOwnVersion } from './versions.js';

/** Writes a record under `epoch` (the write path's compare-and-set). */
export type PutRecord = (record: SessionRecord, epoch: string) => Promise<ScriptReply>;

/** The dataset's epoch, and what follows when the server's data is not what this store wrote. */
export class Recovery {
  /**
   * @param own - the shared record state
   * @param put - the write path's compare-and-set write
   */
  constructor(
    private readonly own: OwnRecord,
    private readonly put: PutRecord,
  ) {}

  /** The dataset's epoch, created when the server has none. */
  async epoch(): Promise<string> {
    const { own } = this;
    if (own.knownEpoch !== null) return own.knownEpoch;
    const { connection, keys } = own.context;
    const current = await connection.call(() =>
      connection.script('coreEnsureEpoch', [keys.epoch], [randomUUID()]),
    );
    if (typeof current !== 'string' || !isToken(current))
      throw new RedisStoreCorruptError(keys.epoch, `epoch ${JSON.stringify(current)} is not a token`);
    if (own.knownEpoch === null) own.knownEpoch = current;
    return own.knownEpoch;
  }

  /** A script saw another epoch than ours: the server lost (or swapped) its data. */
  epochChanged(current: string): void {
    const { own } = this;
    const previous = own.knownEpoch;
    if (current !== '' && current === previous) return;
    own.knownEpoch = isToken(current) ? current : null;
    if (previous === null) return;
    own.context.logger.warn(
      { location: own.context.location, previousEpoch: previous, epoch: current || null },
      `session store ${own.context.location}: the server's dataset changed (epoch ${previous} → ${current || 'none'}): ` +
        'it restarted without persistence or was flushed; versions read before are void' +
        (own.version !== null && own.takenOverBy === undefined
          ? ', and this session writes its record and claims again'
          : ''),
    );
    void own.exclusive(() => this.restoreIfLost()).catch((error: unknown) => own.warnBackground(error));
  }

  /** The record's version belongs to a lost dataset: claim again what it claimed; the next put creates it. */
  async forgetLostVersion(): Promise<void> {
    const { own } = this;
    const claimed = (own.lastRecord?.resources ?? []).filter((r) => r.claimed);
    own.version = null;
    own.versionEpoch = null;
    if (claimed.length > 0) await own.context.reclaim(claimed);
  }

  /**
   * The server shows `current` where this store last wrote its version. When
   * that can only be a rollback of the server's data — an earlier version of
   * our own record, or no record while the lease is still ours (a take-over
   * always deletes the owner's lease) — prepares the record and its claims to
   * be written again and returns true; otherwise (a reaper's doing, or
   * unknown) returns false and nothing changes.
   */
  async adoptRollback(current: string): Promise<boolean> {
    const { own } = this;
    const version = own.version;
    if (version === null || own.takenOverBy !== undefined || own.sessionId === null) return false;
    if (current === '') {
      if (!(await this.leaseIsOurs())) return false;
    } else if (!isEarlierOwnVersion(current, version)) return false;
    own.rolledBackFrom = current === '' ? null : version;
    own.version = current === '' ? null : current;
    const claimed = (own.lastRecord?.resources ?? []).filter((r) => r.claimed);
    own.note(
      { outcome: 'restored', leaseId: own.leaseId },
      `the server's data went back to an older snapshot (its record is at ${current === '' ? 'nothing' : `version ${current}`}, ` +
        `this store had written ${version}), so the record (${own.lastRecord?.resources.length ?? 0} resources) and ` +
        `${claimed.length} claims are written again`,
    );
    if (claimed.length > 0) await own.context.reclaim(claimed);
    return true;
  }

  /** After an epoch change: writes the last record again under the new epoch. */
  private async restoreIfLost(): Promise<void> {
    const { own } = this;
    if (own.stopped || own.takenOverBy !== undefined || own.lastRecord === null) return;
    const epoch = await this.epoch();
    if (own.version === null || own.versionEpoch === epoch) return;
    const record = own.lastRecord;
    await this.forgetLostVersion();
    const reply = await this.put(record, epoch);
    if (reply[0] !== 'ok') {
      if (reply[0] !== 'epoch') own.markTakenOver(reply);
      return;
    }
    own.note(
      { outcome: 'restored', leaseId: own.leaseId },
      `its record (${record.resources.length} resources) was written again`,
    );
  }

  private async leaseIsOurs(): Promise<boolean> {
    const { connection, keys } = this.own.context;
    const lease = await connection.call(() => connection.redis.get(keys.lease(this.own.sessionId as string)));
    return lease === this.own.leaseId;
  }
}
