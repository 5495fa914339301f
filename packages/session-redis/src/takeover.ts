// Reaping by take-over: a compare-and-set of the dead session's record from
// the version the reaper listed to a new version carrying the reaper's mark.
// Of any number of reapers exactly one wins. The hold is judged by the
// reaper's own lease: a reaper that dies (or stalls past its TTL) is judged
// dead and the next reaper takes the record over from it, so a record is
// never stuck and never forgotten.
import { type SessionOwner, type SessionRecord, SessionTakenOverError } from '@core/session';
import type { ReapTakeover, StoredSession } from '@core/session/store';
import { serializeReaping, serializeRecord } from './codec.js';
import type { Connection } from './connection.js';
import { RedisLeaseConflictError, RedisStoreCorruptError } from './errors.js';
import type { KeyLayout } from './keys.js';
import type { ScriptReply } from './scripts.js';
import type { EntrySigner } from './signing.js';

/** What a take-over needs from the store. */
export interface TakeOverContext {
  readonly connection: Connection;
  readonly keys: KeyLayout;
  readonly leaseTtlMs: number;
  /** The current epoch (ensured). */
  readonly epoch: () => Promise<string>;
  /** A script replied `epoch`: the dataset changed. */
  readonly epochChanged: (current: string) => void;
  /** This store's lease id (the reaper's). */
  readonly leaseId: string;
  /** The lease was set by a script: start heartbeating. */
  readonly leaseSet: () => void;
  /** Signs what the reaper writes (null without a fleet key). */
  readonly signer: EntrySigner | null;
  /** Resolves once the replicas have the writes so far (see `Connection.replicated`). */
  readonly replicated: () => Promise<void>;
}

/**
 * Takes `target` over for `reaper` (see `SessionStore.takeOver`).
 * @returns the hold, or null when another reaper won, the owner came back, or the dataset changed.
 */
export async function takeOver(
  context: TakeOverContext,
  target: StoredSession,
  reaper: SessionOwner,
): Promise<ReapTakeover | null> {
  const { connection, keys } = context;
  const sessionId = target.record.sessionId;
  const recordKey = keys.record(sessionId);
  const source = { key: recordKey, signer: context.signer };
  const ownLease = keys.lease(reaper.sessionId);
  const previous = target.reaping?.by.sessionId;
  const epoch = await context.epoch();
  if (!target.version.startsWith(`${epoch}:`)) return null; // listed before the server lost its data
  const reply = (await connection.call(() =>
    connection.script(
      'coreTakeOver',
      [keys.epoch, recordKey, keys.lease(sessionId), ownLease, previous ? keys.lease(previous) : ownLease],
      [
        epoch,
        target.version,
        serializeReaping(reaper, Date.now(), source),
        context.leaseId,
        context.leaseTtlMs,
        target.lease === 'held' ? '0' : '1',
        previous && target.reaping?.lease !== 'held' ? '1' : '0',
      ],
    ),
  )) as ScriptReply;
  switch (reply[0]) {
    case 'ok':
      break;
    case 'epoch':
      context.epochChanged(reply[1] ?? '');
      return null;
    case 'lease-conflict':
      throw new RedisLeaseConflictError(reaper.sessionId, `its lease is held by another store (${reply[1]})`);
    case 'corrupt':
      throw new RedisStoreCorruptError(recordKey, `version ${JSON.stringify(reply[1])}`);
    default:
      return null;
  }
  context.leaseSet();
  let held = reply[1] as string;
  const record = target.record;
  const write = async (mode: 'save' | 'finish', next: SessionRecord | null): Promise<void> => {
    const result = (await connection.call(() =>
      connection.script(
        'coreReapWrite',
        [keys.epoch, recordKey, keys.sessions],
        [epoch, held, mode, next === null ? '' : serializeRecord(next, source), sessionId],
      ),
    )) as ScriptReply;
    if (result[0] === 'ok') {
      held = result[1] as string;
      // What the reaper keeps (adopted, put back) must survive a failover like any record.
      await context.replicated();
      return;
    }
    if (result[0] === 'removed') return;
    if (result[0] === 'epoch') context.epochChanged(result[1] ?? '');
    // Another reaper judged us dead and took it over, or the dataset was lost: our hold is gone.
    throw new SessionTakenOverError(sessionId, reaperOf(result[1]));
  };
  return {
    record,
    save: (next) => write('save', next),
    finish: (remaining) => write('finish', remaining),
  };
}

function reaperOf(mark: string | undefined): string | null {
  const match = mark ? /"sessionId":"([^"]+)"/.exec(mark) : null;
  return match ? (match[1] as string) : null;
}
