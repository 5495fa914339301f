// What the store writes and reads back. Everything read from etcd is
// untrusted input (another client, an older version, a person with etcdctl
// may have written it): each value is checked before use, and a value that
// fails is reported with the reason, never trusted or thrown. What every
// fleet store writes alike (owners, reaping marks) is @core/session/store's.
import {
  type Parsed,
  parseClaimHolder,
  parseReapingMark,
  type ReapingMarkValue,
  type SessionOwner,
  type SessionRecord,
} from '@core/session/store';

/** etcd ids and revisions: int64 as decimal text. */
const INT64 = /^[1-9]\d{0,18}$/;

/** A record's value as stored. */
export function serializeRecord(record: SessionRecord): string {
  return JSON.stringify(record);
}

/** Checks a reaping mark; `lease` is the lease the key is attached to (a mark without one was not written by a reaper). */
export function parseReaping(text: string, lease: string): Parsed<ReapingMarkValue> {
  if (!INT64.test(lease)) return { ok: false, reason: 'reaping mark not attached to a lease' };
  return parseReapingMark(text, true);
}

/** Checks a claim; `lease` as for {@link parseReaping}. */
export function parseClaim(text: string, lease: string): Parsed<SessionOwner> {
  if (!INT64.test(lease)) return { ok: false, reason: 'claim not attached to a lease' };
  return parseClaimHolder(text);
}

/**
 * Checks a lease marker: its value names the lease it is attached to. A key
 * planted without a lease (or naming another) would make a dead session look
 * alive for ever: it is refused, and the session judged without it.
 */
export function parseLeaseMarker(text: string, lease: string): Parsed<string> {
  if (!INT64.test(lease) || text !== lease)
    return {
      ok: false,
      reason: `lease marker ${JSON.stringify(text.slice(0, 40))} is not attached to that lease`,
    };
  return { ok: true, value: lease };
}

/** Whether a value is an etcd revision or id as the server sends them. */
export function isInt64(value: string): boolean {
  return INT64.test(value);
}
