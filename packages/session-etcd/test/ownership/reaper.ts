// What a reaper of the ownership run logs, around the real store and the
// real `fencedCleanup`: each take-over (with its fencing token), each
// cleanup — `invoke` before the fencing check, `run` once past it, `done`
// with the outcome — and each finish, with the resources put back. The VM
// cleanup deletes at the fake cloud with the token, after a pause that
// stands for the work a real cleanup does before it reaches the VM: a
// reaper stopped there comes back with an old token, which is what the
// cloud's fence is for.
import type { ResourceCleanup, ResourceRecord, SessionOwner, SessionRecord } from '@core/session';
import type { StoredSession } from '@core/session/store';
import { type EtcdReapTakeover, EtcdSessionStore, fencedCleanup, fencingTokenOf } from '../../src/index.js';
import { cloudRequest } from './fake-cloud.js';
import { portResource, sessionResource, vmResource } from './history.js';
import type { OpLog, Step } from './op-log.js';

/** The stable code of an error (SessionError), else its message. */
export function codeOf(error: unknown): string {
  return (error as { code?: string }).code ?? (error as Error).message ?? String(error);
}

/** How the history names a resource of a session on `host`. */
export function resourceName(resource: Pick<ResourceRecord, 'kind' | 'id'>, host: string): string {
  if (resource.kind === 'vm') return vmResource(resource.id);
  if (resource.kind === 'port') return portResource(host, resource.id);
  return `${resource.kind}:${resource.id}`;
}

/** An EtcdSessionStore whose take-overs and finishes are logged (once `log` is set). */
export class LoggedStore extends EtcdSessionStore {
  log: OpLog | null = null;

  override async takeOver(target: StoredSession, reaper: SessionOwner): Promise<EtcdReapTakeover | null> {
    const log = this.log;
    if (log === null) return super.takeOver(target, reaper);
    const owner = target.record.sessionId;
    const step = log.begin('takeover', sessionResource(owner), { owner });
    let hold: EtcdReapTakeover | null;
    try {
      hold = await super.takeOver(target, reaper);
    } catch (error) {
      step.done(false, { detail: codeOf(error) });
      throw error;
    }
    if (hold === null) {
      step.done(false, { detail: 'another reaper won, or the record changed since it was listed' });
      return null;
    }
    step.done(true, { token: hold.fencingToken });
    const { fencingToken: token, finish } = hold;
    return {
      ...hold,
      finish: async (remaining: SessionRecord | null) => {
        const host = target.record.hostname;
        const kept = (remaining?.resources ?? []).map((r) => resourceName(r, host));
        const done = log.begin('finish', sessionResource(owner), { owner, token, kept });
        try {
          await finish(remaining);
          done.done(true);
        } catch (error) {
          done.done(false, { detail: codeOf(error) });
          throw error;
        }
      },
    };
  }
}

/**
 * The cleanup every reaper of the run passes to `reapDeadSessions`: logged,
 * fenced, deleting VMs at the cloud (a port of a dead process needs nothing
 * undone).
 */
export function loggedCleanup(log: OpLog, cloud: string, prepareMs: () => number): ResourceCleanup {
  const steps = new WeakMap<ResourceRecord, Step>();
  const fenced = fencedCleanup(async (resource, _owner, { token }) => {
    steps.get(resource)?.run();
    if (resource.kind !== 'vm') return { ok: true };
    const wait = prepareMs();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const result = await cloudRequest(cloud, { op: 'delete', vm: resource.id, token, by: log.session });
    return result === 'superseded'
      ? { ok: false, detail: 'refused by the VM: a higher fencing token reached it first' }
      : { ok: true, detail: result };
  });
  return async (resource, owner) => {
    const step = log.begin('cleanup', resourceName(resource, owner.hostname), {
      owner: owner.sessionId,
      token: fencingTokenOf(owner) ?? null,
    });
    steps.set(resource, step);
    try {
      const result = await fenced(resource, owner);
      step.done(result.ok, { detail: result.detail });
      return result;
    } catch (error) {
      step.done(false, { detail: codeOf(error) });
      throw error;
    }
  };
}
