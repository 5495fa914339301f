// What the store writes and reads back. Everything read from Redis is
// untrusted input (another client, an older version, a person with redis-cli
// may have written it): each value is checked with zod before use, and a
// value that fails is reported with the reason, never trusted or thrown.
import { parseSessionRecord, parseWith, type SessionOwner, type SessionRecord } from '@core/session';
import { z } from 'zod';
import { type EntrySigner, open, seal } from './signing.js';

const SessionId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/);

const OwnerSchema = z.object({
  sessionId: SessionId,
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
    ...(record.stableHostId === undefined ? {} : { stableHostId: record.stableHostId }),
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

/** Where a record hash was read, and how its entries are checked. */
export interface HashSource {
  /** The hash's key: what a record's signature is bound to (a reaping mark's: this + `#reaper`). */
  readonly key: string;
  readonly signer: EntrySigner | null;
}

/** Checks a record hash read for `sessionId`; null fields mean a missing key. */
export function parseRecordHash(
  sessionId: string,
  source: HashSource,
  version: string | null,
  storedRecord: string | null,
  storedReaper: string | null,
): Parsed<StoredHash> | null {
  if (version === null && storedRecord === null && storedReaper === null) return null;
  if (version === null || !VERSION.test(version))
    return { ok: false, reason: `version ${JSON.stringify(version)} is not "<epoch>:<incarnation>:<n>"` };
  if (storedRecord === null) return { ok: false, reason: 'no record' };
  const recordText = open(source.signer, source.key, storedRecord);
  if (!recordText.ok) return { ok: false, reason: `record: ${recordText.reason}` };
  let reaperText: string | null = null;
  if (storedReaper !== null) {
    const opened = open(source.signer, reaperScope(source.key), storedReaper);
    if (!opened.ok) return { ok: false, reason: `reaping mark: ${opened.reason}` };
    reaperText = opened.value;
  }
  const record = parseSessionRecord(recordText.value);
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

/** What a reaping mark's signature is bound to. */
function reaperScope(recordKey: string): string {
  return `${recordKey}#reaper`;
}

/** A record's text as stored under `source.key` (signed when the store has a key). */
export function serializeRecord(record: SessionRecord, source: HashSource): string {
  return seal(source.signer, source.key, JSON.stringify(record));
}

/** The reaping mark a take-over stores in the hash of `source`. */
export function serializeReaping(by: SessionOwner, since: number, source: HashSource): string {
  return seal(source.signer, reaperScope(source.key), JSON.stringify({ by: ownerOf(by), since }));
}

/** A claim's value: the holder's id first, so scripts can compare it without decoding JSON; signed for its key. */
export function serializeClaim(holder: SessionOwner, source: HashSource): string {
  return seal(source.signer, source.key, `v2 ${holder.sessionId} ${JSON.stringify(ownerOf(holder))}`);
}

/** Checks a claim value read from `source.key`. */
export function parseClaim(stored: string, source: HashSource): Parsed<SessionOwner> {
  const opened = open(source.signer, source.key, stored);
  if (!opened.ok) return opened;
  const value = opened.value;
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
