// Claims of unique resources: a key per resource, created in a transaction
// that requires it to be absent (`createRevision == 0`) and attached to the
// claimant's lease — so a claim lives exactly as long as its holder's lease.
// A claim whose holder the caller judges dead is taken over by a transaction
// on the exact modRevision read, so of any number of claimants exactly one wins.
import type { SessionOwner } from '@core/session';
import type { ClaimOutcome, ClaimRequest, LeaseEvidence, StoredClaim } from '@core/session/store';
import { serializeClaimHolder } from '@core/session/store';
import { parseClaim, parseLeaseMarker } from './codec.js';
import type { Connection } from './connection.js';
import { EtcdStoreCorruptError } from './errors.js';
import type { KeyLayout } from './keys.js';
import { type Entry, is, op, read, txn } from './kv.js';

/** What claims need from the store. */
export interface ClaimContext {
  readonly connection: Connection;
  readonly keys: KeyLayout;
  /** The claimant's lease (with its marker). */
  readonly lease: () => Promise<string>;
  /** `host` id or `fleet` for a kind. */
  readonly scopeOf: (kind: string, owner: { readonly hostId: string | null }) => string;
  /** Lease evidence of a marker read now. */
  readonly evidence: (marker: Entry | undefined) => LeaseEvidence;
  readonly warnCorrupt: (key: string, reason: string) => void;
}

/** How often a claim is tried again when its holder changes under it. */
const ATTEMPTS = 8;

/** See `SessionStore.claim`. */
export async function claim(context: ClaimContext, request: ClaimRequest): Promise<ClaimOutcome> {
  const { connection, keys } = context;
  const key = keys.claim(request.kind, context.scopeOf(request.kind, request.owner), request.id);
  const value = serializeClaimHolder(request.owner);
  let takenOverFrom: SessionOwner | undefined;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const lease = await context.lease();
    const created = await connection.call(() =>
      txn(connection, [is.absent(key)], [op.put(key, value, lease)], [op.get(key)]),
    );
    if (created.succeeded) return takenOverFrom ? { ok: true, takenOverFrom } : { ok: true };
    const current = created.ranges[0]?.[0];
    if (current === undefined) continue; // released meanwhile
    const holder = parseClaim(current.value, current.lease);
    let replace = false;
    if (!holder.ok) {
      // Not a claim any store wrote: nobody holds it by this protocol. Replace that exact value.
      context.warnCorrupt(current.key, `${holder.reason}; taken over by ${request.owner.sessionId}`);
      replace = true;
      takenOverFrom = undefined;
    } else if (holder.value.sessionId === request.owner.sessionId) {
      if (current.lease === lease) return { ok: true };
      replace = true; // ours under a lease that was replaced: move it to the current one
    } else {
      const marker = await read(connection, [op.get(keys.lease(holder.value.sessionId))]);
      if (!request.holderIsDead(holder.value, context.evidence(marker.ranges[0]?.[0])))
        return { ok: false, holder: holder.value };
      replace = true;
      takenOverFrom = holder.value;
    }
    if (!replace) continue;
    const replaced = await connection.call(() =>
      txn(connection, [is.modifiedAt(key, current.modRevision)], [op.put(key, value, lease)], [op.get(key)]),
    );
    if (replaced.succeeded) return takenOverFrom ? { ok: true, takenOverFrom } : { ok: true };
    const now = replaced.ranges[0]?.[0];
    if (now !== undefined && now.value === value && now.lease === lease)
      return takenOverFrom ? { ok: true, takenOverFrom } : { ok: true }; // our retried attempt had landed
  }
  // The claim kept changing hands under us: someone else is winning it.
  const last = (await read(connection, [op.get(key)])).ranges[0]?.[0];
  const holder = last === undefined ? null : parseClaim(last.value, last.lease);
  if (holder?.ok && holder.value.sessionId !== request.owner.sessionId)
    return { ok: false, holder: holder.value };
  if (holder?.ok && last?.lease === (await context.lease())) return { ok: true };
  throw new EtcdStoreCorruptError(key, `the claim changed hands on each of ${ATTEMPTS} attempts`);
}

/** See `SessionStore.releaseClaim`; `scopes` are the scopes the holder may have filed it under. */
export async function releaseClaim(
  context: ClaimContext,
  kind: string,
  id: string,
  holderSessionId: string,
  scopes: readonly string[],
): Promise<boolean> {
  const { connection, keys } = context;
  let released = false;
  for (const scope of new Set(scopes)) {
    const key = keys.claim(kind, scope, id);
    const current = (await read(connection, [op.get(key)])).ranges[0]?.[0];
    if (current === undefined) continue;
    const holder = parseClaim(current.value, current.lease);
    if (!holder.ok || holder.value.sessionId !== holderSessionId) continue;
    const reply = await connection.call(() =>
      txn(connection, [is.modifiedAt(key, current.modRevision)], [op.del(key)]),
    );
    if (reply.succeeded) released = true;
  }
  return released;
}

/** Every claim of `kind` with its holder's lease evidence: two reads, each at one revision. */
export async function listClaims(context: ClaimContext, kind: string): Promise<StoredClaim[]> {
  const { connection, keys } = context;
  const found: { id: string; holder: SessionOwner; lease: string }[] = [];
  for (const entry of (await read(connection, [op.scan(keys.claims(kind))])).ranges[0] ?? []) {
    const place = keys.parseClaim(kind, entry.key);
    const holder = parseClaim(entry.value, entry.lease);
    if (place === null || !holder.ok) {
      context.warnCorrupt(entry.key, holder.ok ? 'not a claim key this store makes' : holder.reason);
      continue;
    }
    found.push({ id: place.id, holder: holder.value, lease: entry.lease });
  }
  if (found.length === 0) return [];
  const holders = [...new Set(found.map((c) => c.holder.sessionId))];
  const markers = await read(
    connection,
    holders.map((id) => op.get(keys.lease(id))),
  );
  const markerOf = new Map<string, Entry | undefined>(holders.map((id, i) => [id, markers.ranges[i]?.[0]]));
  return found.map((c) => {
    const marker = markerOf.get(c.holder.sessionId);
    // A claim is attached to its holder's lease: it vouches for the holder only while that is the marker's lease too.
    const valid =
      marker !== undefined && parseLeaseMarker(marker.value, marker.lease).ok && marker.lease === c.lease;
    return { kind, id: c.id, holder: c.holder, lease: context.evidence(valid ? marker : undefined) };
  });
}
