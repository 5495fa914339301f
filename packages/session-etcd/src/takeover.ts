// Reaping by take-over: one transaction, valid only while the dead session's
// record and reaping mark are exactly the listed ones (their modRevisions),
// puts the reaper's mark — attached to the reaper's lease — on the record,
// rewrites the record (so the owner's compare-and-set fails for good) and
// removes the owner's lease marker. Of any number of reapers exactly one
// wins. The revision of that transaction is the fencing token: every later
// step of the reaper (save, finish, each cleanup through `fencedCleanup`)
// requires the mark to still be the one written at that revision. A reaper
// that dies or stalls past its TTL loses the mark with its lease, the record
// is reapable again, and the next take-over gets a higher token.
import {
  type SessionLogger,
  type SessionOwner,
  type SessionRecord,
  SessionTakenOverError,
} from '@core/session';
import { type StoredSession, serializeReapingMark } from '@core/session/store';
import { isInt64, parseReaping, serializeRecord } from './codec.js';
import type { Connection } from './connection.js';
import { rememberFence } from './fencing.js';
import type { KeyLayout } from './keys.js';
import { is, op, read, txn } from './kv.js';
import type { EtcdReapTakeover } from './stored.js';

/** What a take-over needs from the store. */
export interface TakeOverContext {
  readonly connection: Connection;
  readonly keys: KeyLayout;
  readonly logger: SessionLogger;
  /** The reaper's lease (with its marker). */
  readonly lease: () => Promise<string>;
}

/**
 * Takes `target` over for `reaper` (see `SessionStore.takeOver`).
 * @returns the hold, or null when another reaper won or the record changed since it was listed.
 */
export async function takeOver(
  context: TakeOverContext,
  target: StoredSession,
  reaper: SessionOwner,
): Promise<EtcdReapTakeover | null> {
  const { connection, keys } = context;
  const sessionId = target.record.sessionId;
  const [recordRevision, markRevision] = target.version.split(':');
  if (
    recordRevision === undefined ||
    !isInt64(recordRevision) ||
    (markRevision !== '0' && !isInt64(markRevision ?? ''))
  )
    return null; // not a version this store lists
  const lease = await context.lease();
  const recordKey = keys.record(sessionId);
  const markKey = keys.reaping(sessionId);
  const ownerMarker = keys.lease(sessionId);
  const compare = [is.modifiedAt(recordKey, recordRevision), is.modifiedAt(markKey, markRevision as string)];
  // Judged on an absent lease: an owner that came back meanwhile keeps its record.
  if (target.lease !== 'held') compare.push(is.absent(ownerMarker));
  const reply = await connection.call(() =>
    txn(
      connection,
      compare,
      [
        op.put(markKey, serializeReapingMark(reaper, Date.now()), lease),
        op.put(recordKey, serializeRecord(target.record)),
        op.del(ownerMarker),
      ],
      [op.get(markKey)],
    ),
  );
  let token = reply.revision;
  if (!reply.succeeded) {
    const mark = reply.ranges[0]?.[0];
    const ours = mark === undefined ? null : parseReaping(mark.value, mark.lease);
    // Our own earlier attempt, whose reply was lost, is the only way the mark can be ours already.
    if (
      mark === undefined ||
      !ours?.ok ||
      ours.value.by.sessionId !== reaper.sessionId ||
      mark.lease !== lease
    )
      return null;
    token = mark.modRevision;
  }
  context.logger.info?.(
    { sessionId, reaper: reaper.sessionId, fencingToken: token },
    `took session ${sessionId} over for reaping (fencing token ${token})`,
  );

  const stillHeld = async (): Promise<boolean> => {
    const now = await read(connection, [op.get(markKey)]);
    return now.ranges[0]?.[0]?.modRevision === token;
  };
  const refused = async (): Promise<never> => {
    const now = (await read(connection, [op.get(markKey)]).catch(() => null))?.ranges[0]?.[0];
    const mark = now === undefined ? null : parseReaping(now.value, now.lease);
    throw new SessionTakenOverError(sessionId, mark?.ok ? mark.value.by.sessionId : null);
  };
  const save = async (next: SessionRecord): Promise<void> => {
    const result = await connection.call(() =>
      txn(connection, [is.modifiedAt(markKey, token)], [op.put(recordKey, serializeRecord(next))]),
    );
    if (!result.succeeded) await refused();
  };
  const finish = async (remaining: SessionRecord | null): Promise<void> => {
    const text = remaining === null ? null : serializeRecord(remaining);
    const result = await connection.call(() =>
      txn(
        connection,
        [is.modifiedAt(markKey, token)],
        [text === null ? op.del(recordKey) : op.put(recordKey, text), op.del(markKey)],
        [op.get(markKey), op.get(recordKey)],
      ),
    );
    if (result.succeeded) return;
    const [mark, record] = result.ranges.map((range) => range[0]);
    // Our earlier attempt landed (its reply was lost): the mark is gone and the record is what we wrote.
    if (mark === undefined && (text === null ? record === undefined : record?.value === text)) return;
    await refused();
  };
  const hold: EtcdReapTakeover = { record: target.record, fencingToken: token, save, finish, stillHeld };
  rememberFence(target.record, { token, sessionId, stillHeld });
  return hold;
}
