import type { SessionRecord } from './contract.js';

/** What `getStatistics()` reports. */
export interface SessionStatistics {
  readonly sessionId: string;
  readonly pid: number;
  readonly hostname: string;
  readonly createdAt: number;
  readonly uptimeSeconds: number;
  /** Whether this session has a VM registered. */
  readonly hasVm: boolean;
  readonly vmId: string | null;
  /** Resources this session has registered. */
  readonly resourceCount: number;
  readonly vmsRegistered: number;
  readonly vmsUnregistered: number;
  /** Calls by this manager that removed at least one stale session. */
  readonly registryCleanups: number;
  /** Every stale session this manager removed, by any call. */
  readonly staleSessionsRemoved: number;
  /** This session's record file (file store) or key. */
  readonly sessionFile: string;
  /** The store's location: the session directory, or the fleet store's address (named for the shared registry file it once was). */
  readonly registryFile: string;
  readonly globalTrackerFile: string;
}

/** Counters a manager keeps (plain increments: atomic on the event loop). */
export class SessionCounters {
  vmsRegistered = 0;
  vmsUnregistered = 0;
  registryCleanups = 0;
  staleSessionsRemoved = 0;

  /** Counts one call that removed `removed` stale sessions. */
  countRemoved(removed: number): void {
    this.staleSessionsRemoved += removed;
    if (removed > 0) this.registryCleanups++;
  }

  /** The statistics snapshot. */
  snapshot(
    identity: { sessionId: string; pid: number; hostname: string; createdAt: number },
    mine: SessionRecord | null,
    files: { sessionFile: string; registryFile: string; globalTrackerFile: string },
    now: number,
  ): SessionStatistics {
    return {
      ...identity,
      uptimeSeconds: Math.max(0, (now - identity.createdAt) / 1000),
      hasVm: mine?.vmId != null,
      vmId: mine?.vmId ?? null,
      resourceCount: mine?.resources.length ?? 0,
      vmsRegistered: this.vmsRegistered,
      vmsUnregistered: this.vmsUnregistered,
      registryCleanups: this.registryCleanups,
      staleSessionsRemoved: this.staleSessionsRemoved,
      ...files,
    };
  }
}
