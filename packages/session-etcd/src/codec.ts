// What the store writes and reads back. Everything read from etcd is
// untrusted input (another client, an older version, a person with etcdctl
// may have written it): each value is checked with zod before use, and a
// value that fails is reported with the reason, never trusted or thrown.
import { parseSessionRecord, parseWith, type SessionOwner, type SessionRecord } from '@core/session';
import { z } from 'zod';
import { SESSION_ID } from './keys.js';

const OwnerSchema = z.object({
  sessionId: z.string().regex(SESSION_ID),
  pid: z.number().int().positive(),
  hostname: z.string().max(255),
  hostId: z.string().max(128).nullable(),
  stableHostId: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .optional(),
  processStartTime: z.string().max(64).nullable(),
  createdAt: z.number().finite(),
  heartbeatAt: z.number().finite().optional(),
});

const ReapingSchema = z.object({ by: OwnerSchema, since: z.number().finite() }).strict();
const ClaimSchema = z.object({ holder: OwnerSchema }).strict();

/** etcd ids and revisions: int64 as decimal text. */
const INT64 = /^[1-9]\d{0,18}$/;

/** A parse result: the value, or why it was refused. */
export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

const parseJson: <T>(schema: z.ZodType<T>, text: string) => Parsed<T> = parseWith;

/** The owner fields of a record (what claims and reaping marks name). */
export function ownerOf(
  record: Omit<SessionOwner, 'hostId'> & { readonly hostId?: string | null | undefined },
): SessionOwner {
  return {
    sessionId: record.sessionId,
    pid: record.pid,
    hostname: record.hostname,
    hostId: record.hostId ?? null,
    ...(record.stableHostId === undefined ? {} : { stableHostId: record.stableHostId }),
    processStartTime: record.processStartTime,
    createdAt: record.createdAt,
    ...(record.heartbeatAt === undefined ? {} : { heartbeatAt: record.heartbeatAt }),
  };
}

/** A record's value as stored. */
export function serializeRecord(record: SessionRecord): string {
  return JSON.stringify(record);
}

/** Checks a record read from the key of `sessionId`. */
export function parseRecord(sessionId: string, text: string): Parsed<SessionRecord> {
  const record = parseSessionRecord(text);
  if (!record.ok) return { ok: false, reason: `record: ${record.reason}` };
  if (record.value.sessionId !== sessionId)
    return { ok: false, reason: `record of session ${record.value.sessionId} stored under ${sessionId}` };
  return record;
}

/** A reaper's mark. */
export interface ReapingValue {
  readonly by: SessionOwner;
  readonly since: number;
}

/** A reaping mark's value as stored. */
export function serializeReaping(by: SessionOwner, since: number): string {
  return JSON.stringify({ by: ownerOf(by), since });
}

/** Checks a reaping mark; `lease` is the lease the key is attached to (a mark without one was not written by a reaper). */
export function parseReaping(text: string, lease: string): Parsed<ReapingValue> {
  if (!INT64.test(lease)) return { ok: false, reason: 'reaping mark not attached to a lease' };
  const mark = parseJson(ReapingSchema, text);
  if (!mark.ok) return { ok: false, reason: `reaping mark: ${mark.reason}` };
  return { ok: true, value: { by: mark.value.by as SessionOwner, since: mark.value.since } };
}

/** A claim's value as stored. */
export function serializeClaim(holder: SessionOwner): string {
  return JSON.stringify({ holder: ownerOf(holder) });
}

/** Checks a claim; `lease` as for {@link parseReaping}. */
export function parseClaim(text: string, lease: string): Parsed<SessionOwner> {
  if (!INT64.test(lease)) return { ok: false, reason: 'claim not attached to a lease' };
  const claim = parseJson(ClaimSchema, text);
  if (!claim.ok) return { ok: false, reason: `claim: ${claim.reason}` };
  return { ok: true, value: claim.value.holder as SessionOwner };
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
