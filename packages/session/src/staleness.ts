// Liveness in one place. Every store, the reaper, claims and the listing ask
// `judgeLiveness`; stores only hand over evidence (leases). On this host a pid
// alive with the recorded start time is live whatever its age or lease — a
// SIGSTOP'd or suspended owner keeps its resources. An owner from an earlier
// boot of this machine is dead: a reboot ends every process. Age and leases
// decide only what cannot be verified here: other hosts, records without a
// start time.
import type { HostIdentity, LeaseEvidence, Liveness, SessionOwner, SessionRecord } from './contract.js';
import { readProcessStartTime } from './process.js';

/** When a session last showed it is alive: its creation or its latest heartbeat. */
export function lastSignOfLife(record: Pick<SessionRecord, 'createdAt' | 'heartbeatAt'>): number {
  return Math.max(record.createdAt, record.heartbeatAt ?? record.createdAt);
}

/** What `judgeLiveness` needs besides the owner. */
export interface LivenessContext {
  /** Epoch ms now. */
  readonly now: number;
  /** Age limit (from the last sign of life) for owners that cannot be verified and have no lease. */
  readonly maxAgeMs: number;
  /** The judging process's host identity (`readHostIdentity()`). */
  readonly host: HostIdentity;
  /** The store's lease evidence on the owner (`none` for the file store). */
  readonly lease: LeaseEvidence;
}

/** A liveness verdict with its reason. */
export interface LivenessVerdict {
  readonly liveness: Liveness;
  readonly reason: string;
  /** Whether the owner shares this host identity (its pid was checked here). */
  readonly thisHost: boolean;
}

/** Whether `owner` runs under the same host identity (v1 data without `hostId`: same hostname). */
export function isOnThisHost(
  owner: { readonly hostname: string; readonly hostId?: string | null | undefined },
  host: HostIdentity,
): boolean {
  const hostId = owner.hostId ?? null;
  return hostId !== null ? hostId === host.id : owner.hostname === host.hostname;
}

/**
 * Judges an owner (a session record, a claim holder, a reaper):
 * - this host, pid gone → `dead`; pid alive with another start time → `dead` (reused);
 *   pid alive with the recorded start time → `live`, whatever age or lease says;
 * - otherwise (other host, or no start time recorded): lease `held` → `live`,
 *   `expired` → `dead`, `settling` → `unknown`; without leases the age limit
 *   decides: older → `dead`, else `live` when the pid is alive here, `unknown` elsewhere.
 */
export function judgeLiveness(
  owner: Pick<SessionOwner, 'pid' | 'hostname' | 'processStartTime' | 'createdAt' | 'heartbeatAt'> & {
    readonly hostId?: string | null | undefined;
    readonly stableHostId?: string | undefined;
  },
  context: LivenessContext,
): LivenessVerdict {
  const thisHost = isOnThisHost(owner, context.host);
  let pidAliveUnverified = false;
  if (thisHost) {
    const started = readProcessStartTime(owner.pid);
    if (started === null) return { liveness: 'dead', reason: `pid ${owner.pid} is gone`, thisHost };
    if (owner.processStartTime !== null) {
      return started === owner.processStartTime
        ? { liveness: 'live', reason: `pid ${owner.pid} alive with the recorded start time`, thisHost }
        : { liveness: 'dead', reason: `pid ${owner.pid} now belongs to another process`, thisHost };
    }
    pidAliveUnverified = true;
  }
  if (context.lease === 'held') return { liveness: 'live', reason: 'lease held', thisHost };
  const earlierBoot = thisHost ? null : fromEarlierBoot(owner, context.host);
  if (earlierBoot !== null) return { liveness: 'dead', reason: earlierBoot, thisHost };
  switch (context.lease) {
    case 'expired':
      return { liveness: 'dead', reason: 'lease expired', thisHost };
    case 'settling':
      return { liveness: 'unknown', reason: 'store reconnected less than one lease TTL ago', thisHost };
    default:
      break;
  }
  const silentMs = context.now - lastSignOfLife(owner);
  if (silentMs > context.maxAgeMs) {
    return {
      liveness: 'dead',
      reason: `no sign of life for ${(silentMs / 3_600_000).toFixed(1)} h (limit ${(context.maxAgeMs / 3_600_000).toFixed(1)} h)`,
      thisHost,
    };
  }
  return pidAliveUnverified
    ? { liveness: 'live', reason: `pid ${owner.pid} alive (no start time recorded)`, thisHost }
    : { liveness: 'unknown', reason: `on another host (${owner.hostname}): cannot verify`, thisHost };
}

/**
 * Why `owner` is from an earlier boot of this machine, or null when that
 * cannot be told. Same machine id, hostname and pid namespace (the stable
 * id) but another boot id (the host id) is a reboot — or a clone of this
 * machine's id on another machine: so the owner's last sign of life must
 * also lie before this boot began. A clock set back after the reboot only
 * makes this say null (kept for the age limit), never dead.
 */
function fromEarlierBoot(
  owner: Pick<SessionOwner, 'createdAt' | 'heartbeatAt'> & {
    readonly hostId?: string | null | undefined;
    readonly stableHostId?: string | undefined;
  },
  host: HostIdentity,
): string | null {
  if (!host.stableId || owner.stableHostId !== host.stableId) return null;
  if (owner.hostId === undefined || owner.hostId === null || owner.hostId === host.id) return null;
  if (host.bootedAt === null || host.bootedAt === undefined) return null;
  const lastSign = lastSignOfLife(owner);
  if (lastSign >= host.bootedAt) return null;
  return `from an earlier boot of this machine (last sign of life ${new Date(lastSign).toISOString()}, this boot began ${new Date(host.bootedAt).toISOString()})`;
}

/** How a session looks from this machine, coarsely: `judgeSession`'s verdicts. */
export type SessionLiveness = 'live' | 'stale' | 'remote';

/**
 * A coarse verdict, derived from {@link judgeLiveness} with no lease
 * evidence: `dead` → `stale`, `unknown` → `remote`. `judgeLiveness` and
 * `listSessions()` say more (the reason, the lease).
 */
export function judgeSession(
  record: Pick<
    SessionRecord,
    'pid' | 'hostname' | 'hostId' | 'processStartTime' | 'createdAt' | 'heartbeatAt'
  >,
  context: {
    readonly now: number;
    readonly maxAgeMs: number;
    readonly hostname: string;
    readonly host?: HostIdentity;
  },
): SessionLiveness {
  const host = context.host ?? {
    hostname: context.hostname,
    machineId: null,
    bootId: null,
    pidNamespace: null,
    id: '',
  };
  const verdict = judgeLiveness(
    { ...record, hostId: context.host ? (record.hostId ?? null) : null },
    { now: context.now, maxAgeMs: context.maxAgeMs, host, lease: 'none' },
  );
  if (verdict.liveness === 'dead') return 'stale';
  return verdict.liveness === 'live' ? 'live' : 'remote';
}
