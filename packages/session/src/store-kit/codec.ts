// The values every fleet store writes besides the record itself — who holds a
// claim, who reaps — and the check of a record read back under a session's
// key. Everything a store reads is untrusted (another client, an older
// version, a person with the server's CLI may have written it): each value is
// checked before use and refused with the reason, never trusted or thrown.
import * as z from 'zod/mini';
import type { SessionOwner, SessionRecord } from '../contract.js';
import { parseSessionRecord, parseWith } from '../schema.js';

/** A value read from a store, checked: the value, or why it was refused. */
export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

// Bounds keep a planted value from costing memory or log space downstream.
const StoredOwnerSchema = z.object({
  sessionId: z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/)),
  pid: z.int().check(z.positive()),
  hostname: z.string().check(z.maxLength(255)),
  hostId: z.nullable(z.string().check(z.maxLength(128))),
  stableHostId: z.optional(z.string().check(z.regex(/^[0-9a-f]{32}$/))),
  processStartTime: z.nullable(z.string().check(z.maxLength(64))),
  createdAt: z.number(),
  heartbeatAt: z.optional(z.number()),
});

const ReapingMarkSchema = z.object({ by: StoredOwnerSchema, since: z.number() });
const StrictReapingMarkSchema = z.strictObject({ by: StoredOwnerSchema, since: z.number() });
const ClaimHolderSchema = z.strictObject({ holder: StoredOwnerSchema });

/** A reaper's mark on a record it took over. */
export interface ReapingMarkValue {
  /** The reaper. */
  readonly by: SessionOwner;
  /** Epoch ms of the take-over. */
  readonly since: number;
}

/** The owner fields of a record or an owner (what claims and reaping marks name), nothing else. */
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

/** Checks a record read from the key of `sessionId`: a valid record of that very session. */
export function parseStoredRecord(sessionId: string, text: string): Parsed<SessionRecord> {
  const record = parseSessionRecord(text);
  if (!record.ok) return { ok: false, reason: `record: ${record.reason}` };
  if (record.value.sessionId !== sessionId)
    return { ok: false, reason: `record of session ${record.value.sessionId} stored under ${sessionId}` };
  return record;
}

/** Checks an owner stored as JSON (`SessionOwner`). */
export function parseStoredOwner(text: string): Parsed<SessionOwner> {
  return parseWith(StoredOwnerSchema, text) as Parsed<SessionOwner>;
}

/** A reaping mark as stored: `{"by":<owner>,"since":<ms>}`. */
export function serializeReapingMark(by: SessionOwner, since: number): string {
  return JSON.stringify({ by: ownerOf(by), since });
}

/**
 * Checks a reaping mark (`serializeReapingMark`).
 * @param strict - refuse a mark with fields of its own (a store whose marks are not signed)
 */
export function parseReapingMark(text: string, strict: boolean): Parsed<ReapingMarkValue> {
  const mark = parseWith(strict ? StrictReapingMarkSchema : ReapingMarkSchema, text);
  if (!mark.ok) return { ok: false, reason: `reaping mark: ${mark.reason}` };
  return { ok: true, value: { by: mark.value.by as SessionOwner, since: mark.value.since } };
}

/** A claim as stored by a store that keeps the holder as JSON: `{"holder":<owner>}`. */
export function serializeClaimHolder(holder: SessionOwner): string {
  return JSON.stringify({ holder: ownerOf(holder) });
}

/** Checks a claim (`serializeClaimHolder`); nothing but the holder is allowed. */
export function parseClaimHolder(text: string): Parsed<SessionOwner> {
  const claim = parseWith(ClaimHolderSchema, text);
  if (!claim.ok) return { ok: false, reason: `claim: ${claim.reason}` };
  return { ok: true, value: claim.value.holder as SessionOwner };
}
