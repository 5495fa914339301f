// claimResources without a global lock: list the live holders of the kind,
// let the chooser pick, claim each pick by exclusive create, and when another
// session won one meanwhile, release what we got and ask the chooser again.
import type {
  ClaimChooser,
  HostIdentity,
  LeaseEvidence,
  ResourceInput,
  ResourceRecord,
  SessionLogger,
  SessionOwner,
  SessionStore,
} from './contract.js';
import { SessionClaimConflictError } from './errors.js';
import type { OwnRecord } from './own-record.js';
import { withResources } from './record-ops.js';
import { toResourceRecord } from './resources.js';

/** How long claimResources keeps retrying races it lost (many managers starting at once all want the first free port). */
const CLAIM_DEADLINE_MS = 10_000;

function backoff(attempt: number): Promise<void> {
  // Jittered, growing to 50 ms: claimants that lost together do not collide again in lockstep.
  const ms = Math.random() * Math.min(50, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What claiming needs from the manager. */
export interface ClaimContext {
  readonly store: SessionStore;
  readonly owner: SessionOwner;
  readonly host: HostIdentity;
  readonly record: OwnRecord;
  readonly logger: SessionLogger;
  readonly holderIsDead: (holder: SessionOwner, lease: LeaseEvidence) => boolean;
}

/** Ids of `kind` held by other sessions not provably dead (host-scoped kinds: on this host only). */
export async function takenByOthers(context: ClaimContext, kind: string): Promise<Set<string>> {
  const hostScoped = context.store.resourceScope(kind) === 'host';
  const taken = new Set<string>();
  for (const claim of await context.store.listClaims(kind)) {
    if (claim.holder.sessionId === context.owner.sessionId) continue;
    if (hostScoped && (claim.holder.hostId ?? null) !== context.host.id) continue;
    if (!context.holderIsDead(claim.holder, claim.lease)) taken.add(claim.id);
  }
  return taken;
}

/** Releases claims of this session (best effort: a claim left behind is taken over once we are gone). */
export async function releaseClaims(
  context: ClaimContext,
  resources: readonly ResourceRecord[],
): Promise<void> {
  for (const r of resources) {
    await context.store.releaseClaim(r.kind, r.id, context.owner.sessionId).catch((error: unknown) => {
      context.logger.warn(
        { err: error, kind: r.kind, id: r.id },
        `could not release the claim ${r.kind} ${r.id}: ${(error as Error).message}`,
      );
    });
  }
}

/** See `GlobalSessionManager.claimResources`. */
export async function claimResources(
  context: ClaimContext,
  kind: string,
  chooser: ClaimChooser,
): Promise<ResourceRecord[]> {
  let lastConflict: { kind: string; id: string } | null = null;
  const deadline = Date.now() + CLAIM_DEADLINE_MS;
  for (let attempt = 0; attempt === 0 || Date.now() < deadline; attempt++) {
    if (attempt > 0) await backoff(attempt);
    const taken = await takenByOthers(context, kind);
    const chosen = await chooser(taken);
    if (!Array.isArray(chosen))
      throw new TypeError('claimResources: the chooser must return an array of resources');
    const records = chosen.map((input: ResourceInput) => ({
      ...toResourceRecord(input, Date.now(), 'claimResources'),
      claimed: true,
    }));
    for (const r of records)
      if (r.kind === kind && taken.has(r.id)) throw new SessionClaimConflictError(kind, r.id);
    const made: ResourceRecord[] = [];
    lastConflict = null;
    for (const r of records) {
      const outcome = await context.store.claim({
        kind: r.kind,
        id: r.id,
        owner: context.owner,
        holderIsDead: context.holderIsDead,
      });
      if (!outcome.ok) {
        lastConflict = r;
        break;
      }
      const heldBefore = context.record.current?.resources.some(
        (m) => m.kind === r.kind && m.id === r.id && m.claimed,
      );
      if (!heldBefore) made.push(r);
    }
    if (lastConflict === null) {
      try {
        if (records.length > 0) await context.record.apply(withResources(records, Date.now()));
      } catch (error) {
        await releaseClaims(context, made);
        throw error;
      }
      return records;
    }
    await releaseClaims(context, made);
  }
  throw new SessionClaimConflictError(lastConflict?.kind ?? kind, lastConflict?.id ?? '');
}
