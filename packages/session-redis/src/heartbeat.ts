// The attached session's lease, kept alive every `heartbeatMs` once a write
// set it. A beat refreshes the lease; when the lease had expired but the
// record is still exactly what this store last wrote, it is re-established
// (nobody took the record over); a record that went back to an earlier own
// version is written again (recovery.ts); a reaper's doing ends the
// heartbeat. A beat never throws: every failure is logged.
import { isToken } from './codec.js';
import { RedisLeaseConflictError } from './errors.js';
import type { OwnRecord } from './own-record.js';
import type { Recovery } from './recovery.js';
import type { ScriptReply } from './scripts.js';

/** The heartbeat of the attached session's lease. */
export class Heartbeat {
  private beating = false;

  /**
   * @param own - the shared record state
   * @param recovery - the epoch and the rollback checks
   * @param rewrite - writes the last record again (after a rollback the beat found)
   */
  constructor(
    private readonly own: OwnRecord,
    private readonly recovery: Recovery,
    private readonly rewrite: () => Promise<void>,
  ) {}

  /** A write set the lease: keep it alive from now on. */
  start(): void {
    const { own } = this;
    own.leaseActive = true;
    if (own.timer !== null || own.stopped || own.takenOverBy !== undefined) return;
    own.timer = setInterval(() => void this.beat(), own.context.options.heartbeatMs);
    own.timer.unref();
  }

  /** (Re)connected: the epoch is read (never created: a store that only lists creates nothing), then one beat. */
  async onReady(): Promise<void> {
    const { own } = this;
    try {
      const { connection, keys } = own.context;
      const current = await connection.call(() => connection.redis.get(keys.epoch));
      if (own.knownEpoch !== null && current !== own.knownEpoch) this.recovery.epochChanged(current ?? '');
      else if (own.knownEpoch === null && isToken(current)) own.knownEpoch = current;
      await this.beat();
    } catch (error) {
      own.warnBackground(error);
    }
  }

  /** Refreshes the lease; re-establishes it when it expired and the record is untouched. Never throws. */
  async beat(): Promise<void> {
    const { own, recovery } = this;
    const sessionId = own.sessionId;
    if (sessionId === null || !own.leaseActive || this.beating || own.stopped) return;
    if (own.takenOverBy !== undefined || !own.context.connection.connected) return;
    this.beating = true;
    try {
      const { connection, keys, options } = own.context;
      const epoch = await recovery.epoch();
      const reply = (await connection.call(() =>
        connection.script(
          'coreHeartbeat',
          [keys.epoch, keys.lease(sessionId), keys.record(sessionId)],
          [epoch, own.leaseId, options.leaseTtlMs, own.versionEpoch === epoch ? (own.version ?? '') : ''],
        ),
      )) as ScriptReply;
      switch (reply[0]) {
        case 'ok':
          // Our lease holds, but the record is not the version we wrote: a restart from an older snapshot.
          if (reply[1] !== undefined && own.pending === 0 && (await recovery.adoptRollback(reply[1])))
            await this.rewrite();
          break;
        case 'renewed':
          own.note(
            { outcome: 'kept', leaseId: own.leaseId },
            'nobody had taken its record over, so it was re-established',
          );
          break;
        case 'epoch':
          recovery.epochChanged(reply[1] ?? '');
          break;
        case 'lease-conflict':
          own.context.logger.warn(
            { sessionId, lease: reply[1] },
            new RedisLeaseConflictError(
              sessionId,
              `another holder has a live lease ${reply[1]} under this session's id`,
            ).message,
          );
          break;
        default:
          if (reply[0] === 'changed' && own.pending === 0 && (await recovery.adoptRollback(reply[1] ?? '')))
            await this.rewrite();
          else own.markTakenOver(reply);
      }
    } catch (error) {
      own.warnBackground(error);
    } finally {
      this.beating = false;
    }
  }
}
