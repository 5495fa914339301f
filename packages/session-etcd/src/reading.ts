// Reads: one record, every record — each with the lease evidence the
// package's `judgeLiveness` needs, and a record's version (its modRevision
// and its reaping mark's) for `takeOver`. Each read is one transaction, so
// what it returns is one revision of the store. Reads only: nothing is
// created or removed; a corrupt entry is skipped and warned about (once per
// key), left in place for inspection.
import type { LeaseEvidence } from '@core/session/store';
import { parseStoredRecord } from '@core/session/store';
import { parseReaping } from './codec.js';
import type { Connection } from './connection.js';
import { type KeyLayout, SESSION_ID } from './keys.js';
import { type Entry, op, read } from './kv.js';
import type { EtcdReapingMark, EtcdStoredSession } from './stored.js';

/** What the readers need from the store. */
export interface ReadContext {
  readonly connection: Connection;
  readonly keys: KeyLayout;
  readonly warnCorrupt: (key: string, reason: string) => void;
  /** Lease evidence of a marker read now (validated). */
  readonly evidence: (marker: Entry | undefined) => LeaseEvidence;
}

/** `<record modRevision>:<reaping mark modRevision, 0 without one>`: what a take-over compares. */
export function versionOf(record: Entry, reaping: Entry | undefined): string {
  return `${record.modRevision}:${reaping?.modRevision ?? '0'}`;
}

function toStored(
  context: ReadContext,
  sessionId: string,
  record: Entry,
  reaping: Entry | undefined,
  marker: (sessionId: string) => Entry | undefined,
): EtcdStoredSession | null {
  const parsed = parseStoredRecord(sessionId, record.value);
  if (!parsed.ok) {
    context.warnCorrupt(record.key, parsed.reason);
    return null;
  }
  let mark: EtcdReapingMark | undefined;
  if (reaping !== undefined) {
    const value = parseReaping(reaping.value, reaping.lease);
    if (!value.ok) {
      // A mark no reaper wrote is ignored, not trusted: the record is judged as if unmarked
      // (the version still includes it, so a take-over must replace exactly that value).
      context.warnCorrupt(reaping.key, value.reason);
    } else {
      const reaperMarker = marker(value.value.by.sessionId);
      mark = {
        by: value.value.by,
        since: value.value.since,
        lease: context.evidence(reaperMarker?.lease === reaping.lease ? reaperMarker : undefined),
        token: reaping.modRevision,
      };
    }
  }
  return {
    record: parsed.value,
    version: versionOf(record, reaping),
    lease: context.evidence(marker(sessionId)),
    ...(mark ? { reaping: mark } : {}),
  };
}

/** One session's record as stored (being-reaped included), or null. */
export async function readOne(context: ReadContext, sessionId: string): Promise<EtcdStoredSession | null> {
  const { connection, keys } = context;
  const reply = await read(connection, [
    op.get(keys.record(sessionId)),
    op.get(keys.reaping(sessionId)),
    op.get(keys.lease(sessionId)),
  ]);
  const [record, reaping, marker] = reply.ranges.map((range) => range[0]);
  if (record === undefined) return null;
  const markers = new Map<string, Entry | undefined>([[sessionId, marker]]);
  const reaper = reaping === undefined ? null : reaperIdOf(reaping.value);
  if (reaper !== null && reaper !== sessionId) {
    const more = await read(connection, [op.get(keys.lease(reaper))]);
    markers.set(reaper, more.ranges[0]?.[0]);
  }
  return toStored(context, sessionId, record, reaping, (id) => markers.get(id));
}

/** Every record (being-reaped ones included), in one transaction: records, marks and markers at one revision. */
export async function readAll(context: ReadContext): Promise<EtcdStoredSession[]> {
  const { connection, keys } = context;
  const reply = await read(connection, [op.scan(keys.records), op.scan(keys.reapings), op.scan(keys.leases)]);
  const [records = [], reapings = [], markers = []] = reply.ranges;
  const byId = (entries: readonly Entry[], prefix: string) =>
    new Map(entries.map((entry) => [entry.key.slice(prefix.length), entry]));
  const reapingOf = byId(reapings, keys.reapings);
  const markerOf = byId(markers, keys.leases);
  const out: EtcdStoredSession[] = [];
  for (const record of records) {
    const sessionId = record.key.slice(keys.records.length);
    if (!SESSION_ID.test(sessionId)) {
      context.warnCorrupt(record.key, 'not a session id this store writes');
      continue;
    }
    const stored = toStored(context, sessionId, record, reapingOf.get(sessionId), (id) => markerOf.get(id));
    if (stored) out.push(stored);
  }
  return out;
}

/** The reaper's sessionId named by a mark, without trusting the rest of it (checked in codec). */
function reaperIdOf(mark: string): string | null {
  const match = /"sessionId":"([A-Za-z0-9][A-Za-z0-9_-]{0,127})"/.exec(mark);
  return match && SESSION_ID.test(match[1] as string) ? (match[1] as string) : null;
}
