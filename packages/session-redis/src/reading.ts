// Reads: one record, every record, every claim of a kind — each with the
// lease evidence the package's `judgeLiveness` needs. Reads only: nothing is
// created, moved or removed; a corrupt entry is skipped and warned about
// (once per key), left in place for inspection.
import type { SessionOwner } from '@core/session';
import type { LeaseEvidence, StoredClaim, StoredSession } from '@core/session/store';
import { ReplyError } from 'ioredis';
import { parseClaim, parseRecordHash } from './codec.js';
import type { Connection } from './connection.js';
import { type KeyLayout, splitClaimMember } from './keys.js';
import type { EntrySigner } from './signing.js';

/** What the readers need from the store. */
export interface ReadContext {
  readonly connection: Connection;
  readonly keys: KeyLayout;
  /** Warns once per key about a value that failed its check. */
  readonly warnCorrupt: (key: string, reason: string) => void;
  /** Checks signed entries (null without a fleet key). */
  readonly signer: EntrySigner | null;
}

/** Lease evidence from a lease value read now. */
export function leaseEvidence(context: ReadContext, lease: string | null): LeaseEvidence {
  if (lease !== null) return 'held';
  return context.connection.settled ? 'expired' : 'settling';
}

type HashReply = [string | null, string | null, string | null];

/** Turns a record hash and its leases into a `StoredSession` (null when missing or corrupt). */
function toStored(
  context: ReadContext,
  sessionId: string,
  hash: HashReply,
  lease: string | null,
  reaperLease: () => string | null,
): StoredSession | null {
  const parsed = parseRecordHash(
    sessionId,
    { key: context.keys.record(sessionId), signer: context.signer },
    ...hash,
  );
  if (parsed === null) return null;
  if (!parsed.ok) {
    context.warnCorrupt(context.keys.record(sessionId), parsed.reason);
    return null;
  }
  const { version, record, reaping } = parsed.value;
  return {
    record,
    version,
    lease: leaseEvidence(context, lease),
    ...(reaping
      ? { reaping: { by: reaping.by, since: reaping.since, lease: leaseEvidence(context, reaperLease()) } }
      : {}),
  };
}

/** One session's record as stored (being-reaped included), or null. */
export async function readOne(context: ReadContext, sessionId: string): Promise<StoredSession | null> {
  const { connection, keys } = context;
  return connection.call(async () => {
    const [hash, lease] = await Promise.all([
      orRefused(
        context,
        keys.record(sessionId),
        connection.redis.hmget(keys.record(sessionId), 'ver', 'rec', 'reaper') as Promise<HashReply>,
        [null, null, null] as HashReply,
      ),
      orRefused(context, keys.lease(sessionId), connection.redis.get(keys.lease(sessionId)), null),
    ]);
    let reaperLease: string | null = null;
    const reaperId = reaperIdOf(hash[2]);
    if (reaperId !== null)
      reaperLease = await orRefused(
        context,
        keys.lease(reaperId),
        connection.redis.get(keys.lease(reaperId)),
        null,
      );
    return toStored(context, sessionId, hash, lease, () => reaperLease);
  });
}

/** Every record (being-reaped ones included), two pipelined round trips after the index. */
export async function readAll(context: ReadContext): Promise<StoredSession[]> {
  const { connection, keys } = context;
  return connection.call(async () => {
    const members = await orRefused(context, keys.sessions, connection.redis.smembers(keys.sessions), []);
    const ids = members.filter((id) => {
      if (/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(id)) return true;
      context.warnCorrupt(keys.sessions, `member ${JSON.stringify(id)} is not a session id`);
      return false;
    });
    if (ids.length === 0) return [];
    const first = connection.redis.pipeline();
    for (const id of ids) {
      first.hmget(keys.record(id), 'ver', 'rec', 'reaper');
      first.get(keys.lease(id));
    }
    const refused = new Set<string>();
    const replies = await execAll(first, (index, error) => {
      const id = ids[Math.floor(index / 2)] as string;
      refused.add(id);
      context.warnCorrupt(index % 2 === 0 ? keys.record(id) : keys.lease(id), error.message);
    });
    const hashes = ids.map((id, i) =>
      refused.has(id)
        ? ([null, null, null] as HashReply)
        : ((replies[2 * i] as HashReply | null) ?? [null, null, null]),
    );
    const leases = ids.map((_, i) => (replies[2 * i + 1] as string | null) ?? null);
    const reapers = [...new Set(hashes.map((h) => reaperIdOf(h[2])).filter((id) => id !== null))];
    const reaperLeases = new Map<string, string | null>();
    if (reapers.length > 0) {
      const second = connection.redis.pipeline();
      for (const id of reapers) second.get(keys.lease(id));
      const values = await execAll(second, (index, error) =>
        context.warnCorrupt(keys.lease(reapers[index] as string), error.message),
      );
      reapers.forEach((id, i) => {
        reaperLeases.set(id, (values[i] as string | null) ?? null);
      });
    }
    const out: StoredSession[] = [];
    ids.forEach((id, i) => {
      const hash = hashes[i] as HashReply;
      const reaperId = reaperIdOf(hash[2]);
      const stored = toStored(context, id, hash, leases[i] ?? null, () =>
        reaperId === null ? null : (reaperLeases.get(reaperId) ?? null),
      );
      if (stored) out.push(stored);
    });
    return out;
  });
}

/** A claim as read, with its raw value (what a take-over compares against). */
export interface ReadClaim extends StoredClaim {
  readonly raw: string;
  /** Whether the holder's lease key existed when read. */
  readonly leasePresent: boolean;
}

/** Every claim of `kind`. */
export async function readClaims(context: ReadContext, kind: string): Promise<ReadClaim[]> {
  const { connection, keys } = context;
  return connection.call(async () => {
    const index = keys.claimIndex(kind);
    const members = await orRefused(context, index, connection.redis.smembers(index), []);
    if (members.length === 0) return [];
    const pipe = connection.redis.pipeline();
    for (const member of members) pipe.get(keys.claimFromMember(kind, member));
    const values = await execAll(pipe, (index, error) =>
      context.warnCorrupt(keys.claimFromMember(kind, members[index] as string), error.message),
    );
    const found: { id: string; raw: string; holder: SessionOwner }[] = [];
    members.forEach((member, i) => {
      const raw = (values[i] as string | null) ?? null;
      const split = splitClaimMember(member);
      if (raw === null || split === null) return; // released meanwhile, or a member we never wrote
      const holder = parseClaim(raw, { key: keys.claimFromMember(kind, member), signer: context.signer });
      if (!holder.ok) {
        context.warnCorrupt(keys.claimFromMember(kind, member), holder.reason);
        return;
      }
      found.push({ id: split.id, raw, holder: holder.value });
    });
    if (found.length === 0) return [];
    const leasePipe = connection.redis.pipeline();
    for (const claim of found) leasePipe.get(keys.lease(claim.holder.sessionId));
    const leases = await execAll(leasePipe, (index, error) =>
      context.warnCorrupt(
        keys.lease((found[index] as { holder: SessionOwner }).holder.sessionId),
        error.message,
      ),
    );
    return found.map((claim, i) => {
      const lease = (leases[i] as string | null) ?? null;
      return {
        kind,
        id: claim.id,
        holder: claim.holder,
        raw: claim.raw,
        lease: leaseEvidence(context, lease),
        leasePresent: lease !== null,
      };
    });
  });
}

/** The reaper's sessionId named by a reaping mark, without trusting the rest of it (checked in codec). */
function reaperIdOf(mark: string | null): string | null {
  if (mark === null) return null;
  const match = /"sessionId":"([A-Za-z0-9][A-Za-z0-9_-]{0,127})"/.exec(mark);
  return match ? (match[1] as string) : null;
}

/** A read the server refused (WRONGTYPE: a planted key of another type) is a corrupt entry: warned, read as `fallback`. */
async function orRefused<T>(context: ReadContext, key: string, read: Promise<T>, fallback: T): Promise<T> {
  try {
    return await read;
  } catch (error) {
    if (!(error instanceof ReplyError)) throw error;
    context.warnCorrupt(key, (error as Error).message);
    return fallback;
  }
}

/**
 * Runs a pipeline. A command the server refused (e.g. WRONGTYPE: someone put
 * a key of another type there) is a corrupt entry: reported through
 * `onRefused` with its index and read as missing. Anything else (a lost
 * connection) fails the read, which the caller retries or reports.
 */
async function execAll(
  pipeline: ReturnType<Connection['redis']['pipeline']>,
  onRefused: (index: number, error: Error) => void,
): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? [];
  return results.map(([error, value], index) => {
    if (error instanceof ReplyError) {
      onRefused(index, error as Error);
      return null;
    }
    if (error) throw error;
    return value;
  });
}
