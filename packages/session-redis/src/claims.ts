// Claims of unique resources: `SET NX` naming the holder. A claim whose
// holder the caller judges dead is taken over by a compare-and-set on the
// exact value read (and on the holder's lease still being absent when that
// was the evidence), so of any number of claimants exactly one wins.
import type { SessionOwner } from '@core/session';
import type { ClaimOutcome, ClaimRequest } from '@core/session/store';
import { parseClaim, serializeClaim } from './codec.js';
import type { Connection } from './connection.js';
import type { KeyLayout } from './keys.js';
import { claimMember } from './keys.js';
import { leaseEvidence, type ReadContext } from './reading.js';
import type { ScriptReply } from './scripts.js';

/** What claims need from the store. */
export interface ClaimContext extends ReadContext {
  readonly connection: Connection;
  readonly keys: KeyLayout;
  readonly leaseTtlMs: number;
  readonly epoch: () => Promise<string>;
  readonly epochChanged: (current: string) => void;
  readonly leaseId: string;
  readonly leaseSet: () => void;
  /** `host` id or `fleet` for a kind, for the claim's key. */
  readonly scopeOf: (kind: string, owner: { readonly hostId: string | null }) => string;
}

/** How often a claim is retried when its holder changes under it. */
const ATTEMPTS = 8;

/** See `SessionStore.claim`. */
export async function claim(context: ClaimContext, request: ClaimRequest): Promise<ClaimOutcome> {
  const { connection, keys } = context;
  const member = claimMember(context.scopeOf(request.kind, request.owner), request.id);
  const claimKey = keys.claimFromMember(request.kind, member);
  const ownLease = keys.lease(request.owner.sessionId);
  const source = { key: claimKey, signer: context.signer };
  const value = serializeClaim(request.owner, source);
  let expected = '';
  let holderLease = ownLease;
  let leaseMustBeAbsent = false;
  let takenOverFrom: SessionOwner | undefined;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const epoch = await context.epoch();
    const reply = (await connection.call(() =>
      connection.script(
        'coreClaim',
        [keys.epoch, claimKey, keys.claimIndex(request.kind), ownLease, holderLease],
        [
          epoch,
          value,
          request.owner.sessionId,
          member,
          context.leaseId,
          context.leaseTtlMs,
          expected,
          leaseMustBeAbsent ? '1' : '0',
        ],
      ),
    )) as ScriptReply;
    switch (reply[0]) {
      case 'ok':
        context.leaseSet();
        return takenOverFrom ? { ok: true, takenOverFrom } : { ok: true };
      case 'mine':
        return { ok: true };
      case 'epoch':
        context.epochChanged(reply[1] ?? '');
        continue;
      default:
        break;
    }
    const raw = reply[1] ?? '';
    const holder = parseClaim(raw, source);
    if (!holder.ok) {
      // Not a value any store wrote: nobody can be holding it by this protocol. Take it over (CAS on the raw value).
      context.warnCorrupt(claimKey, `${holder.reason}; taken over by ${request.owner.sessionId}`);
      expected = raw;
      holderLease = ownLease;
      leaseMustBeAbsent = false;
      takenOverFrom = undefined;
      continue;
    }
    const lease = await connection.call(() => connection.redis.get(keys.lease(holder.value.sessionId)));
    const evidence = leaseEvidence(context, lease);
    if (!request.holderIsDead(holder.value, evidence)) return { ok: false, holder: holder.value };
    expected = raw;
    holderLease = keys.lease(holder.value.sessionId);
    leaseMustBeAbsent = lease === null;
    takenOverFrom = holder.value;
  }
  // The claim kept changing hands under us: someone else is winning it.
  const last = parseClaim(
    (await connection.call(() => connection.redis.get(claimKey))) ?? serializeClaim(request.owner, source),
    source,
  );
  return last.ok && last.value.sessionId !== request.owner.sessionId
    ? { ok: false, holder: last.value }
    : { ok: true };
}

/** See `SessionStore.releaseClaim`; `scopes` are the claim scopes the holder may have filed it under. */
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
    const member = claimMember(scope, id);
    const reply = await connection.call(() =>
      connection.script(
        'coreReleaseClaim',
        [keys.claimFromMember(kind, member), keys.claimIndex(kind)],
        [holderSessionId, member],
      ),
    );
    if (reply === 1) released = true;
  }
  return released;
}
