// Fencing tokens. A take-over happens at one etcd revision; that revision is
// the reaper's token for everything it does to that session's resources.
// A later take-over (this reaper was judged dead: paused, partitioned) gets
// a higher one, and the reaping mark's modRevision then no longer equals
// ours — so before each step a reaper can ask whether it still holds the
// session, and a cleanup command can carry the token to the resource itself
// (see the README: a label precondition on the VM), where a stale reaper's
// lower token is refused even if it got past every check here.
import type { CleanupResult, ResourceCleanup, ResourceRecord, SessionRecord } from '@core/session';

/** A reaper's hold on one dead session, as its cleanups see it. */
export interface Fence {
  /** The etcd revision of the take-over (decimal). */
  readonly token: string;
  /** The dead session. */
  readonly sessionId: string;
  /** Whether this take-over still holds the session (one read: the mark is still the one written at `token`). */
  stillHeld(): Promise<boolean>;
}

/** What a fenced cleanup gets besides the resource and its dead owner. */
export interface FenceContext {
  /** The fencing token: pass it to the command (`{token}`), e.g. as a precondition on the resource. */
  readonly token: string;
}

/** A cleanup that receives the fencing token of the take-over it runs under. */
export type FencedCleanup = (
  resource: ResourceRecord,
  owner: SessionRecord,
  fence: FenceContext,
) => Promise<CleanupResult>;

// Keyed by the record object a take-over hands out, which `reapDeadSessions`
// passes to every cleanup of that session as `owner`: no field is added to
// the record (nothing of it is written back).
const fences = new WeakMap<SessionRecord, Fence>();

/** Remembers the fence of a record handed out by a take-over. */
export function rememberFence(record: SessionRecord, fence: Fence): void {
  fences.set(record, fence);
}

/**
 * The fencing token of the take-over that handed out `owner` (the record a
 * `ResourceCleanup` receives as its second argument), or undefined when it
 * did not come from a take-over by an `EtcdSessionStore` of this process.
 */
export function fencingTokenOf(owner: SessionRecord): string | undefined {
  return fences.get(owner)?.token;
}

/**
 * Wraps a cleanup for `reapDeadSessions`: before each resource it checks that
 * the take-over still holds the session — a reaper whose take-over was
 * superseded (a later reaper judged it dead) stops before its next step and
 * reports the resource as not cleaned — and it hands the cleanup the
 * fencing token. Pass `adopt: false` to `reapDeadSessions` with it: a
 * superseded reaper should leave what it did not clean to the reaper that
 * now holds it, not adopt it.
 */
export function fencedCleanup(cleanup: FencedCleanup): ResourceCleanup {
  if (typeof cleanup !== 'function')
    throw new TypeError(
      'fencedCleanup: "cleanup" must be a function (resource, owner, { token }) => Promise<{ ok }>',
    );
  return async (resource, owner) => {
    const fence = fences.get(owner);
    if (fence === undefined)
      return {
        ok: false,
        detail: 'not run: no fencing token (the record was not taken over by an EtcdSessionStore here)',
      };
    let held: boolean;
    try {
      held = await fence.stillHeld();
    } catch (error) {
      return {
        ok: false,
        detail: `not run: could not confirm the take-over (token ${fence.token}): ${(error as Error).message}`,
      };
    }
    if (!held)
      return {
        ok: false,
        detail: `not run: the take-over of session ${fence.sessionId} with fencing token ${fence.token} was superseded`,
      };
    return cleanup(resource, owner, { token: fence.token });
  };
}
