// What the store writes and reads back. Everything read from Redis is
// untrusted input (another client, an older version, a person with redis-cli
// may have written it): each value is checked before use, and a value that
// fails is reported with the reason, never trusted or thrown. What every
// fleet store writes alike (owners, reaping marks) is @core/session/store's.
import {
  ownerOf,
  type Parsed,
  parseReapingMark,
  parseStoredOwner,
  parseStoredRecord,
  type ReapingMarkValue,
  type SessionOwner,
  type SessionRecord,
  serializeReapingMark,
} from '@core/session/store';
import { type EntrySigner, open, seal } from './signing.js';

/** "<epoch>:<incarnation>:<n>", as the scripts make it. */
const VERSION = /^[0-9a-f-]{8,64}:[0-9a-f-]{8,64}:\d{1,15}$/;
/** Lease ids and epochs are UUIDs made by this package. */
const TOKEN = /^[0-9a-f-]{8,64}$/;

/** A record's hash as read (`HMGET ver rec reaper`), checked. */
export interface StoredHash {
  readonly version: string;
  readonly record: SessionRecord;
  readonly reaping: ReapingMarkValue | null;
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
  const record = parseStoredRecord(sessionId, recordText.value);
  if (!record.ok) return record;
  let reaping: StoredHash['reaping'] = null;
  if (reaperText !== null) {
    // Signed when the store has a key: fields of its own are ignored, as they always were.
    const mark = parseReapingMark(reaperText, false);
    if (!mark.ok) return mark;
    reaping = mark.value;
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
  return seal(source.signer, reaperScope(source.key), serializeReapingMark(by, since));
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
  const owner = parseStoredOwner(match[2] as string);
  if (!owner.ok) return owner;
  if (owner.value.sessionId !== match[1])
    return { ok: false, reason: `names ${match[1]} but holds the owner ${owner.value.sessionId}` };
  return owner;
}

/** Whether a lease value or epoch looks like one this package wrote. */
export function isToken(value: string | null): value is string {
  return value !== null && TOKEN.test(value);
}
