// The attached session's own side: its record's compare-and-set version, its
// lease and heartbeat, and what happens after an outage. Two rules:
// - a restored lease never writes back what was reaped: the lease is
//   re-established only while the record is exactly what this store last
//   wrote; once a reaper took it over, every write is refused;
// - versions carry the dataset's epoch: after a server restart without
//   persistence (a new epoch), the last written record and its claims are
//   written again under the new epoch, and versions read before the restart
//   never match again;
// - after a restart from an older snapshot (same epoch: the record went back
//   to an earlier version of this owner's own, or vanished while this owner
//   still holds the lease), the record and its claims are written again too,
//   under a version past every one issued before — never when a reaper's
//   mark, a reaper's version or no lease of ours is what the server shows.
import { randomUUID } from 'node:crypto';
import { type SessionLogger, type SessionRecord, SessionTakenOverError } from '@core/session';
import { isToken, serializeRecord } from './codec.js';
import type { Connection } from './connection.js';
import { RedisLeaseConflictError, RedisStoreCorruptError } from './errors.js';
import type { KeyLayout } from './keys.js';
import type { LeaseRenewal } from './lease-renewal.js';
import type { ResolvedRedisOptions } from './options.js';
import type { ScriptReply } from './scripts.js';
import { isEarlierOwnVersion, nextVersion } from './versions.js';

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

/** The attached session's record version, lease and heartbeat. */
export class OwnLease {
  /** Renewals, oldest first (bounded). */
  readonly renewals: LeaseRenewal[] = [];
  /** Set once a reaper took the record over: the reaper's id (null when unknown). */
  takenOverBy: string | null | undefined = undefined;

  private sessionId: string | null = null;
  private readonly leaseId = randomUUID();
  private leaseActive = false;
  private knownEpoch: string | null = null;
  /** Version of the record this store last wrote, and the epoch it was written in. */
  private version: string | null = null;
  private versionEpoch: string | null = null;
  private lastRecord: SessionRecord | null = null;
  /**
   * After a rollback: the newest version this store had written before it, so
   * the next write moves past it (a compare-and-set token is never issued twice).
   */
  private rolledBackFrom: string | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  /** Own operations queued or running (the hot path runs only when none is). */
  private pending = 0;
  private timer: NodeJS.Timeout | null = null;
  private beating = false;
  private stopped = false;

  /** @param context - see {@link OwnLeaseContext} */
  constructor(private readonly context: OwnLeaseContext) {
    context.connection.events.on('ready', () => {
      void this.onReady();
    });
  }

  /** The lease id while a lease is held. */
  get activeLeaseId(): string | null {
    return this.leaseActive && this.takenOverBy === undefined ? this.leaseId : null;
  }

  /** Binds to the attached session. */
  attach(sessionId: string): void {
    this.sessionId = sessionId;
  }

  /** The lease id scripts set for `sessionId` (the attached session's; a tool without one gets a throw-away). */
  leaseIdFor(_sessionId: string | null): string {
    return this.leaseId;
  }

  /** A script set the lease: keep it alive from now on. */
  leaseSet(): void {
    this.leaseActive = true;
    if (this.timer !== null || this.stopped || this.takenOverBy !== undefined) return;
    this.timer = setInterval(() => void this.beat(), this.context.options.heartbeatMs);
    this.timer.unref();
  }

  /** The dataset's epoch, created when the server has none. */
  async epoch(): Promise<string> {
    if (this.knownEpoch !== null) return this.knownEpoch;
    const { connection, keys } = this.context;
    const current = await connection.call(() =>
      connection.script('coreEnsureEpoch', [keys.epoch], [randomUUID()]),
    );
    if (typeof current !== 'string' || !isToken(current))
      throw new RedisStoreCorruptError(keys.epoch, `epoch ${JSON.stringify(current)} is not a token`);
    if (this.knownEpoch === null) this.knownEpoch = current;
    return this.knownEpoch;
  }

  /** A script saw another epoch than ours: the server lost (or swapped) its data. */
  epochChanged(current: string): void {
    const previous = this.knownEpoch;
    if (current !== '' && current === previous) return;
    this.knownEpoch = isToken(current) ? current : null;
    if (previous === null) return;
    this.context.logger.warn(
      { location: this.context.location, previousEpoch: previous, epoch: current || null },
      `session store ${this.context.location}: the server's dataset changed (epoch ${previous} → ${current || 'none'}): ` +
        'it restarted without persistence or was flushed; versions read before are void' +
        (this.version !== null && this.takenOverBy === undefined
          ? ', and this session writes its record and claims again'
          : ''),
    );
    void this.exclusive(() => this.restoreIfLost()).catch((error: unknown) => this.warnBackground(error));
  }

  /** Writes the whole record (see `RedisSessionStore.writeRecord`). */
  write(record: SessionRecord): Promise<void> {
    // Hot path, nothing else of this session in flight: one script call, no queue hop. Anything
    // unusual (first write, a take-over, a lost dataset, an outage) goes the general way below.
    if (this.pending === 0 && this.canWriteFast()) return this.writeFast(record);
    return this.writeQueued(record);
  }

  private canWriteFast(): boolean {
    return (
      this.version !== null &&
      this.takenOverBy === undefined &&
      this.versionEpoch === this.knownEpoch &&
      this.rolledBackFrom === null &&
      this.context.connection.connected
    );
  }

  /** The record as stored: JSON, signed when the fleet has a key. */
  private serialize(record: SessionRecord): string {
    const { keys, options } = this.context;
    return serializeRecord(record, { key: keys.record(record.sessionId), signer: options.signer });
  }

  private writeFast(record: SessionRecord): Promise<void> {
    const { connection, keys, options } = this.context;
    const expected = this.version as string;
    const next = nextVersion(expected);
    if (next === null) return this.writeQueued(record);
    this.pending++;
    // The queue waits for the attempt only, never for the fallback: the fallback queues itself
    // behind it (waiting on a promise that contains the fallback would deadlock).
    const attempt = connection
      .script(
        'corePutRecordFast',
        [keys.record(record.sessionId), keys.lease(record.sessionId)],
        [expected, next, this.serialize(record), this.leaseId, options.leaseTtlMs],
      )
      .then(
        (reply) => {
          this.pending--;
          if (reply !== 1) return false; // the general script says why
          this.version = next;
          this.lastRecord = record;
          if (this.timer === null) this.leaseSet();
          return true;
        },
        () => {
          this.pending--;
          return false; // a lost connection or a timeout: the general path waits for the server
        },
      );
    this.queue = attempt;
    return attempt.then((written) => (written ? undefined : this.writeQueued(record)));
  }

  private writeQueued(record: SessionRecord): Promise<void> {
    return this.exclusive(async () => {
      this.refuseIfTakenOver();
      const started = Date.now();
      for (let attempt = 0; attempt < 4; attempt++) {
        const epoch = this.knownEpoch ?? (await this.epoch()); // no extra await on the hot path
        if (this.version !== null && this.versionEpoch !== epoch) await this.forgetLostVersion();
        const reply = await this.put(record, epoch, started);
        if (reply[0] === 'ok') return;
        if (reply[0] === 'changed' && this.version !== null && reply[1] === nextVersion(this.version)) {
          // Our previous attempt landed but its reply was lost (a command timeout): only this
          // owner moves its record one step without a reaper's mark. Write again on top of it.
          this.version = reply[1];
          continue;
        }
        if (reply[0] === 'changed' && (await this.adoptRollback(reply[1] ?? ''))) continue;
        if (reply[0] !== 'epoch') this.refuse(reply, record.sessionId);
      }
      throw new RedisStoreCorruptError(
        this.context.keys.epoch,
        'the epoch changed on every attempt of one write',
      );
    });
  }

  /** Removes the record (see `RedisSessionStore.removeRecord`). */
  remove(sessionId: string): Promise<boolean> {
    return this.exclusive(async () => {
      if (this.takenOverBy !== undefined) return false;
      const { connection, keys } = this.context;
      for (let attempt = 0; attempt < 4; attempt++) {
        const epoch = await this.epoch();
        if (this.version !== null && this.versionEpoch !== epoch) await this.forgetLostVersion();
        const reply = (await connection.call(() =>
          connection.script(
            'coreRemoveRecord',
            [keys.epoch, keys.record(sessionId), keys.sessions],
            [epoch, this.version ?? '', sessionId],
          ),
        )) as ScriptReply;
        switch (reply[0]) {
          case 'ok':
            this.version = null;
            this.rolledBackFrom = null;
            this.lastRecord = null;
            return true;
          case 'missing':
            return false;
          case 'epoch':
            this.epochChanged(reply[1] ?? '');
            continue;
          default:
            if (this.version === null) return false; // a record this store never wrote: not ours to remove
            if (reply[0] === 'changed' && reply[1] === '') {
              // Gone already: our earlier attempt whose reply was lost, or a reaper that finished it.
              // Either way what we wanted holds; nothing of ours is written back.
              this.version = null;
              this.lastRecord = null;
              return true;
            }
            if (reply[0] === 'changed' && (await this.adoptRollback(reply[1] ?? ''))) continue; // remove that one
            this.markTakenOver(reply);
            return false;
        }
      }
      return false;
    });
  }

  /** Stops the heartbeat and waits for queued writes. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.queue.catch(() => undefined);
    // A session that removed its record leaves no lease behind to expire on
    // its own: listings then show nothing of it at once. One that still has a
    // record keeps its lease until the TTL (its resources stay reapable then).
    if (this.sessionId === null || this.version !== null || !this.leaseActive) return;
    if (this.takenOverBy !== undefined) return;
    const { connection, keys } = this.context;
    const lease = keys.lease(this.sessionId);
    await connection
      .call(() => connection.script('coreDropLease', [lease], [this.leaseId]))
      .catch(() => undefined); // best effort: otherwise it expires after one TTL
    this.leaseActive = false;
  }

  // ---- internals ------------------------------------------------------------------

  private exclusive<T>(run: () => Promise<T>): Promise<T> {
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

  private async put(record: SessionRecord, epoch: string, started = Date.now()): Promise<ScriptReply> {
    const { connection, keys, options } = this.context;
    const text = this.serialize(record);
    // After a rollback the next version moves past every one issued before it.
    const next = this.version === null ? null : nextVersion(this.rolledBackFrom ?? this.version);
    if (next !== null) {
      const done = await connection.call(
        () =>
          connection.script(
            'corePutRecordFast',
            [keys.record(record.sessionId), keys.lease(record.sessionId)],
            [this.version as string, next, text, this.leaseId, options.leaseTtlMs],
          ),
        started,
      );
      if (done === 1) {
        this.version = next;
        this.rolledBackFrom = null;
        this.lastRecord = record;
        this.leaseSet();
        return ['ok', next];
      }
    }
    const reply = (await connection.call(
      () =>
        connection.script(
          'corePutRecord',
          [keys.epoch, keys.record(record.sessionId), keys.lease(record.sessionId), keys.sessions],
          [epoch, this.version ?? '', text, this.leaseId, options.leaseTtlMs, record.sessionId, randomUUID()],
        ),
      started,
    )) as ScriptReply;
    if (reply[0] === 'ok') {
      this.version = reply[1] as string;
      this.rolledBackFrom = null;
      this.versionEpoch = epoch;
      this.lastRecord = record;
      this.leaseSet();
    } else if (reply[0] === 'epoch') this.epochChanged(reply[1] ?? '');
    return reply;
  }

  /** A non-ok reply of a write: throws the matching error (and remembers a take-over). */
  private refuse(reply: ScriptReply, sessionId: string): never {
    if (reply[0] === 'lease-conflict')
      throw new RedisLeaseConflictError(
        sessionId,
        `another holder has a live lease ${reply[1]} under this session's id`,
      );
    if (reply[0] === 'corrupt')
      throw new RedisStoreCorruptError(
        this.context.keys.record(sessionId),
        `version ${JSON.stringify(reply[1])}`,
      );
    if (this.version === null && reply[0] === 'changed')
      throw new RedisLeaseConflictError(
        sessionId,
        'a record of this session exists that this store did not write',
      );
    this.markTakenOver(reply);
    this.refuseIfTakenOver();
    throw new SessionTakenOverError(sessionId, null);
  }

  private refuseIfTakenOver(): void {
    if (this.takenOverBy !== undefined && this.sessionId !== null)
      throw new SessionTakenOverError(this.sessionId, this.takenOverBy);
  }

  /** The record's version belongs to a lost dataset: claim again what it claimed; the next put creates it. */
  private async forgetLostVersion(): Promise<void> {
    const claimed = (this.lastRecord?.resources ?? []).filter((r) => r.claimed);
    this.version = null;
    this.versionEpoch = null;
    if (claimed.length > 0) await this.context.reclaim(claimed);
  }

  /** After an epoch change: write the last record again under the new epoch. */
  private async restoreIfLost(): Promise<void> {
    if (this.stopped || this.takenOverBy !== undefined || this.lastRecord === null) return;
    const epoch = await this.epoch();
    if (this.version === null || this.versionEpoch === epoch) return;
    const record = this.lastRecord;
    await this.forgetLostVersion();
    const reply = await this.put(record, epoch);
    if (reply[0] !== 'ok') {
      if (reply[0] !== 'epoch') this.markTakenOver(reply);
      return;
    }
    this.note(
      { outcome: 'restored', leaseId: this.leaseId },
      `its record (${record.resources.length} resources) was written again`,
    );
  }

  private async onReady(): Promise<void> {
    try {
      // Only read the epoch here: a store that merely lists (a status command) must create nothing.
      const { connection, keys } = this.context;
      const current = await connection.call(() => connection.redis.get(keys.epoch));
      if (this.knownEpoch !== null && current !== this.knownEpoch) this.epochChanged(current ?? '');
      else if (this.knownEpoch === null && isToken(current)) this.knownEpoch = current;
      await this.beat();
    } catch (error) {
      this.warnBackground(error);
    }
  }

  /** Refreshes the lease; re-establishes it when it expired and the record is untouched. Never throws. */
  private async beat(): Promise<void> {
    const sessionId = this.sessionId;
    if (sessionId === null || !this.leaseActive || this.beating || this.stopped) return;
    if (this.takenOverBy !== undefined || !this.context.connection.connected) return;
    this.beating = true;
    try {
      const { connection, keys, options } = this.context;
      const epoch = await this.epoch();
      const reply = (await connection.call(() =>
        connection.script(
          'coreHeartbeat',
          [keys.epoch, keys.lease(sessionId), keys.record(sessionId)],
          [epoch, this.leaseId, options.leaseTtlMs, this.versionEpoch === epoch ? (this.version ?? '') : ''],
        ),
      )) as ScriptReply;
      switch (reply[0]) {
        case 'ok':
          // Our lease holds, but the record is not the version we wrote: a restart from an older snapshot.
          if (reply[1] !== undefined && this.pending === 0 && (await this.adoptRollback(reply[1])))
            await this.rewriteLastRecord();
          break;
        case 'renewed':
          this.note(
            { outcome: 'kept', leaseId: this.leaseId },
            'nobody had taken its record over, so it was re-established',
          );
          break;
        case 'epoch':
          this.epochChanged(reply[1] ?? '');
          break;
        case 'lease-conflict':
          this.context.logger.warn(
            { sessionId, lease: reply[1] },
            new RedisLeaseConflictError(
              sessionId,
              `another holder has a live lease ${reply[1]} under this session's id`,
            ).message,
          );
          break;
        default:
          if (reply[0] === 'changed' && this.pending === 0 && (await this.adoptRollback(reply[1] ?? '')))
            await this.rewriteLastRecord();
          else this.markTakenOver(reply);
      }
    } catch (error) {
      this.warnBackground(error);
    } finally {
      this.beating = false;
    }
  }

  /**
   * The server shows `current` where this store last wrote `version`. When
   * that can only be a rollback of the server's data — an earlier version of
   * our own record, or no record while the lease is still ours (a take-over
   * always deletes the owner's lease) — prepares the record and its claims to
   * be written again and returns true; otherwise (a reaper's doing, or
   * unknown) returns false and nothing changes.
   */
  private async adoptRollback(current: string): Promise<boolean> {
    const own = this.version;
    if (own === null || this.takenOverBy !== undefined || this.sessionId === null) return false;
    if (current === '') {
      if (!(await this.leaseIsOurs())) return false;
    } else if (!isEarlierOwnVersion(current, own)) return false;
    this.rolledBackFrom = current === '' ? null : own;
    this.version = current === '' ? null : current;
    const claimed = (this.lastRecord?.resources ?? []).filter((r) => r.claimed);
    this.note(
      { outcome: 'restored', leaseId: this.leaseId },
      `the server's data went back to an older snapshot (its record is at ${current === '' ? 'nothing' : `version ${current}`}, ` +
        `this store had written ${own}), so the record (${this.lastRecord?.resources.length ?? 0} resources) and ` +
        `${claimed.length} claims are written again`,
    );
    if (claimed.length > 0) await this.context.reclaim(claimed);
    return true;
  }

  private async leaseIsOurs(): Promise<boolean> {
    const { connection, keys } = this.context;
    const lease = await connection.call(() => connection.redis.get(keys.lease(this.sessionId as string)));
    return lease === this.leaseId;
  }

  /** After {@link OwnLease.adoptRollback} outside a write: writes the last record again. */
  private async rewriteLastRecord(): Promise<void> {
    const record = this.lastRecord;
    if (record !== null) await this.writeQueued(record);
  }

  private markTakenOver(reply: ScriptReply): void {
    if (this.takenOverBy !== undefined) return;
    const match = reply[1] ? /"sessionId":"([^"]+)"/.exec(reply[1]) : null;
    this.takenOverBy = match ? (match[1] as string) : null;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.note(
      { outcome: 'taken-over', leaseId: null },
      `its record was taken over by a reaper${this.takenOverBy ? ` (${this.takenOverBy})` : ''} meanwhile, so nothing was written back; ` +
        'its resources are cleaned up by the reaper and this store refuses further writes',
    );
  }

  private note(change: Pick<LeaseRenewal, 'outcome' | 'leaseId'>, what: string): void {
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
  private warnBackground(error: unknown): void {
    const code = (error as { code?: unknown }).code;
    const level = code === 'E_SESSION_STORE_UNAVAILABLE' ? 'debug' : 'warn';
    this.context.logger[level]?.(
      { err: error },
      `session store background step failed: ${(error as Error).message}`,
    );
  }
}
