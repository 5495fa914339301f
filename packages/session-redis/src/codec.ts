// What the store writes and reads back. Everything read from Redis is
// untrusted input (another client, an older version, a person with redis-cli
// may have written it): each value is checked with zod before use, and a
// value that fails is reported with the reason, never trusted or thrown.
import { parseSessionRecord, parseWith, type SessionOwner, type SessionRecord } from '@core/session';
import { z } from 'zod';

const SessionId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/);

const OwnerSchema = z.object({
  sessionId: SessionId,
  pid: z.number().int().positive(),
  hostname: z.string().max(255),
  hostId: z.string().max(128).nullable(),
  processStartTime: z.string().max(64).nullable(),
  createdAt: z.number().finite(),
  heartbeatAt: z.number().finite().optional(),
});

const ReapingSchema = z.object({ by: OwnerSchema, since: z.number().finite() });

/** "<epoch>:<incarnation>:<n>", as the scripts make it. */
const VERSION = /^[0-9a-f-]{8,64}:[0-9a-f-]{8,64}:\d{1,15}$/;
/** Lease ids and epochs are UUIDs made by this package. */
const TOKEN = /^[0-9a-f-]{8,64}$/;

/** A parse result: the value, or why it was refused. */
export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

// JSON + zod with the reason on failure: the same reading as @core/session's own files.
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
    processStartTime: record.processStartTime,
    createdAt: record.createdAt,
    ...(record.heartbeatAt === undefined ? {} : { heartbeatAt: record.heartbeatAt }),
  };
}

/** A record's hash as read (`HMGET ver rec reaper`), checked. */
export interface StoredHash {
  readonly version: string;
  readonly record: SessionRecord;
  readonly reaping: { readonly by: SessionOwner; readonly since: number } | null;
}

/** Checks a record hash read for `sessionId`; null fields mean a missing key. */
export function parseRecordHash(
  sessionId: string,
  version: string | null,
  recordText: string | null,
  reaperText: string | null,
): Parsed<StoredHash> | null {
  if (version === null && recordText === null && reaperText === null) return null;
  if (version === null || !VERSION.test(version))
    return { ok: false, reason: `version ${JSON.stringify(version)} is not "<epoch>:<incarnation>:<n>"` };
  if (recordText === null) return { ok: false, reason: 'no record' };
  const record = parseSessionRecord(recordText);
  if (!record.ok) return { ok: false, reason: `record: ${record.reason}` };
  if (record.value.sessionId !== sessionId)
    return { ok: false, reason: `record of session ${record.value.sessionId} stored under ${sessionId}` };
  let reaping: StoredHash['reaping'] = null;
  if (reaperText !== null) {
    const mark = parseJson(ReapingSchema, reaperText);
    if (!mark.ok) return { ok: false, reason: `reaping mark: ${mark.reason}` };
    reaping = { by: mark.value.by as SessionOwner, since: mark.value.since };
  }
  return { ok: true, value: { version, record: record.value, reaping } };
}

/** The reaping mark a take-over stores. */
export function serializeReaping(by: SessionOwner, since: number): string {
  return JSON.stringify({ by: ownerOf(by), since });
}

/** A claim's value: the holder's id first, so scripts can compare it without decoding JSON. */
export function serializeClaim(holder: SessionOwner): string {
  return `v2 ${holder.sessionId} ${JSON.stringify(ownerOf(holder))}`;
}

/** Checks a claim value. */
export function parseClaim(value: string): Parsed<SessionOwner> {
  const match = /^v2 (\S+) ([\s\S]+)$/.exec(value);
  if (!match) return { ok: false, reason: 'not "v2 <sessionId> <owner JSON>"' };
  const owner = parseJson(OwnerSchema, match[2] as string);
  if (!owner.ok) return owner;
  if (owner.value.sessionId !== match[1])
    return { ok: false, reason: `names ${match[1]} but holds the owner ${owner.value.sessionId}` };
  return { ok: true, value: owner.value as SessionOwner };
}

/** Whether a lease value or epoch looks like one this package wrote. */
export function isToken(value: string | null): value is string {
  return value !== null && TOKEN.test(value);
}
