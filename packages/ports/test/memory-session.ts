import { Mutex } from 'async-mutex';
import type { PortClaimChooser, PortReservationSession, PortResource } from '../src/index.js';

/**
 * An in-memory stand-in for the session registry with the contract's
 * semantics: one lock, `takenByOthers` = ids of other sessions, the chooser's
 * result recorded before the lock is released. Several sessions can share one
 * registry to model processes of one machine in a single test.
 */
export class MemoryRegistry {
  readonly owned = new Map<string, Map<string, PortResource>>();
  private readonly lock = new Mutex();

  session(sessionId: string): PortReservationSession & { readonly calls: string[] } {
    const calls: string[] = [];
    const mine = (): Map<string, PortResource> => {
      let m = this.owned.get(sessionId);
      if (m === undefined) {
        m = new Map();
        this.owned.set(sessionId, m);
      }
      return m;
    };
    return {
      calls,
      claimResources: (_kind: 'port', chooser: PortClaimChooser) =>
        this.lock.runExclusive(async () => {
          calls.push('claim');
          const taken = new Set<string>();
          for (const [other, resources] of this.owned) {
            if (other !== sessionId) for (const id of resources.keys()) taken.add(id);
          }
          const chosen = await chooser(taken);
          for (const r of chosen) mine().set(r.id, r);
          return chosen;
        }),
      unregisterResource: async (_kind: 'port', id: string) => {
        calls.push(`unregister ${id}`);
        return mine().delete(id);
      },
    };
  }

  idsOf(sessionId: string): string[] {
    return [...(this.owned.get(sessionId)?.keys() ?? [])].sort();
  }
}
