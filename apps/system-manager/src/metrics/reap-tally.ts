// What this manager's reaping did and what it still owes, for /metrics: a
// VM whose cleanup failed is adopted by this session and retried at its
// shutdown, so until then it costs money unseen unless something counts it.
import type { ResourceRecord } from '@core/session';

/** Cleanups run for dead sessions' resources, by kind and outcome. */
export interface ReapCleanupCount {
  readonly kind: string;
  readonly outcome: string;
  readonly count: number;
}

/** Counts every reaping cleanup by kind and outcome, for the manager's lifetime. */
export class ReapTally {
  private readonly counts = new Map<string, ReapCleanupCount>();

  /** Adds one reaping phase's actions. */
  add(actions: readonly { readonly kind: string; readonly outcome: string }[]): void {
    for (const { kind, outcome } of actions) {
      const key = `${kind}\0${outcome}`;
      this.counts.set(key, { kind, outcome, count: (this.counts.get(key)?.count ?? 0) + 1 });
    }
  }

  /** Every (kind, outcome) seen so far. */
  cleanups(): readonly ReapCleanupCount[] {
    return [...this.counts.values()];
  }
}

/** Resources this session adopted from dead sessions because their cleanup failed, by kind. */
export function adoptedByKind(resources: readonly ResourceRecord[]): Record<string, number> {
  const byKind: Record<string, number> = {};
  for (const resource of resources) {
    if (resource.metadata?.['adoptedFrom'] === undefined) continue;
    byKind[resource.kind] = (byKind[resource.kind] ?? 0) + 1;
  }
  return byKind;
}
