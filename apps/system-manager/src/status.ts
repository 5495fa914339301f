import type { GlobalSessionManager } from '@core/session';
import { type FleetLeaseRenewal, type FleetStore, fleetStoreKind } from './fleet-store.js';
import type { ReapMetricsInput } from './metrics/index.js';
import type { StoreHealth, StoreHealthStatus } from './store-health.js';
import type { ServiceStatus, SupervisedService } from './supervisor/service.js';

/** Lifecycle of the manager itself. */
export type ManagerState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/** What `status()` returns and `GET /status` serves. */
export interface ManagerStatus {
  readonly state: ManagerState;
  readonly sessionId: string | null;
  readonly pid: number;
  readonly hostname: string;
  readonly startedAt: number | null;
  readonly uptimeSeconds: number;
  readonly ports: Readonly<Record<string, number>>;
  readonly aliases: Readonly<Record<string, number>>;
  /** Each service: state, health, pid, port, restarts, last exit, bad messages, log counters. */
  readonly services: readonly ServiceStatus[];
  readonly lastValidation: ValidationSummary | null;
  /** Where the session is registered: this machine's file registry, or the fleet's Redis or etcd registry with this session's lease. */
  readonly sessionStore: SessionStoreStatus;
  /** Whether the session store answers: `up: false` is the degraded state (services keep running). */
  readonly store: StoreHealthStatus;
}

/** The session registry in use, as `status()` reports it. */
export type SessionStoreStatus =
  | { readonly kind: 'file'; readonly location: string | null }
  | {
      readonly kind: 'redis' | 'etcd';
      readonly location: string;
      readonly connected: boolean;
      /** This session's lease (null while it owns nothing). */
      readonly leaseId: string | null;
      readonly leaseTtlMs: number;
      /** Times the lease counted as lost (e.g. a store outage longer than the TTL), and what became of it. */
      readonly leaseRenewals: readonly FleetLeaseRenewal[];
    };

/** Summary of one periodic invariant check. */
export interface ValidationSummary {
  readonly at: number;
  readonly consistent: boolean;
  readonly healed: readonly string[];
}

/** What the app's `/metrics` renderer needs from the manager (real counts, no rendering here). */
export interface AppMetricsInput {
  readonly services: ReadonlyArray<{
    readonly name: string;
    readonly up: boolean;
    readonly restarts: number;
    readonly healthCheckFailures: number;
    readonly badMessages: number;
    readonly spawnResourceErrors: number;
  }>;
  readonly store: {
    readonly kind: 'file' | 'redis' | 'etcd';
    readonly up: boolean;
    readonly leaseRenewals: number;
    readonly leaseFailures: number;
    readonly outages: number;
    readonly unverifiedEntries: number;
  };
  readonly reap: ReapMetricsInput;
}

/** The session registry's part of `/status`. */
export function sessionStoreStatusOf(
  store: FleetStore | undefined,
  session: GlobalSessionManager | undefined,
): SessionStoreStatus {
  if (!store) return { kind: 'file', location: session?.registryFile ?? null };
  return {
    kind: fleetStoreKind(store),
    location: store.location,
    connected: store.connected,
    leaseId: store.leaseId,
    leaseTtlMs: store.leaseTtlMs,
    leaseRenewals: store.leaseRenewals,
  };
}

/** The real counts behind the app's metrics. */
export function appMetricsFrom(
  services: readonly SupervisedService[],
  store: FleetStore | undefined,
  health: StoreHealth,
  reap: ReapMetricsInput,
): AppMetricsInput {
  const counters = health.counters();
  return {
    reap,
    services: services.map((s) => {
      const status = s.status();
      return {
        name: status.name,
        up: status.state === 'healthy',
        restarts: status.restarts,
        healthCheckFailures: status.healthCheckFailures,
        badMessages: status.badMessages,
        spawnResourceErrors: status.spawnResourceErrors,
      };
    }),
    store: {
      kind: store ? fleetStoreKind(store) : 'file',
      up: health.status().up,
      leaseRenewals: store?.leaseRenewals.length ?? 0,
      leaseFailures: counters.failures,
      outages: counters.outages,
      unverifiedEntries: store?.unverifiedEntries ?? 0,
    },
  };
}
