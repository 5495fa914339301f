import { type MetricFamily, renderFamilies, type Sample } from './exposition.js';

/** What the manager knows about one supervised service, read when /metrics is scraped. */
export interface ServiceMetricsInput {
  /** The service's configured name (the `service` label). */
  readonly name: string;
  /** Whether it is running and its health check passes. */
  readonly up: boolean;
  /** Restarts by the supervisor since the manager started. */
  readonly restarts: number;
  /** Failed health checks since the manager started. */
  readonly healthCheckFailures: number;
  /** IPC messages from the service that were malformed or unknown. */
  readonly badMessages: number;
  /** Spawns that failed for want of descriptors or processes (EMFILE, ENFILE, EAGAIN). Default 0. */
  readonly spawnResourceErrors?: number;
}

/** The state of the session registry store. */
export interface SessionStoreMetricsInput {
  /** `file` (the embedded default), `redis` or `etcd` (the fleet stores). */
  readonly kind: 'file' | 'redis' | 'etcd';
  /** Whether the store answers now (the file store: its directory is usable). */
  readonly up: boolean;
  /** Leases that counted as lost and were re-registered (or, on etcd, confirmed again); 0 for the file store. */
  readonly leaseRenewals: number;
  /** Lease refreshes that failed. */
  readonly leaseFailures: number;
  /** Times the store went from answering to not answering. */
  readonly outages: number;
  /** Entries (records, claims) refused because they do not verify with the fleet key (Redis with a key). Default 0. */
  readonly unverifiedEntries?: number;
}

/** What reaping dead sessions did, and what this session still owes from it. */
export interface ReapMetricsInput {
  /** Cleanups run for dead sessions' resources since the manager started, by kind and outcome. */
  readonly cleanups: readonly { readonly kind: string; readonly outcome: string; readonly count: number }[];
  /** Resources adopted from dead sessions because their cleanup failed (retried at shutdown), by kind. */
  readonly adopted: Readonly<Record<string, number>>;
}

/** Everything {@link renderAppMetrics} renders; `manager.appMetricsInput()` provides it. */
export interface AppMetricsInput {
  /** One entry per configured service. */
  readonly services: readonly ServiceMetricsInput[];
  /** The session store. */
  readonly store: SessionStoreMetricsInput;
  /** Reaping. Default: nothing reaped, nothing adopted. */
  readonly reap?: ReapMetricsInput;
}

const STORE_KINDS = ['file', 'redis', 'etcd'] as const;
/** Kinds always present in the adopted gauge (0 when none), so an alert on them never sees an absent series. */
const ALWAYS_REPORTED_KINDS = ['vm'] as const;

/**
 * The app's own metric families (services and session store) in the
 * Prometheus text format 0.0.4, every family with `# HELP` and `# TYPE`:
 *
 * - `system_manager_service_up{service}` (gauge, 1/0),
 *   `system_manager_service_restarts_total{service}`,
 *   `system_manager_service_health_check_failures_total{service}`,
 *   `system_manager_service_bad_messages_total{service}`,
 *   `system_manager_service_spawn_resource_errors_total{service}`;
 * - `system_manager_session_store_up`, `system_manager_session_store_info{kind}` (1 for the kind in use),
 *   `system_manager_session_lease_renewals_total`,
 *   `system_manager_session_lease_failures_total`,
 *   `system_manager_session_store_outages_total`,
 *   `system_manager_session_store_unverified_entries_total`;
 * - `system_manager_reap_cleanups_total{kind,outcome}`,
 *   `system_manager_session_adopted_resources{kind}` (always with `kind="vm"`).
 *
 * Label values are escaped. A service name given twice is rendered once (the
 * first entry): two samples with the same labels would make the whole scrape
 * invalid.
 */
export function renderAppMetrics(input: AppMetricsInput): string {
  const seen = new Set<string>();
  const services = input.services.filter((s) => {
    if (seen.has(s.name)) return false;
    seen.add(s.name);
    return true;
  });
  const perService = (value: (s: ServiceMetricsInput) => number): Sample[] =>
    services.map((s) => ({ labels: { service: s.name }, value: value(s) }));
  const { store } = input;
  const adopted: Record<string, number> = Object.fromEntries(ALWAYS_REPORTED_KINDS.map((k) => [k, 0]));
  Object.assign(adopted, input.reap?.adopted);
  const families: MetricFamily[] = [
    {
      name: 'system_manager_service_up',
      type: 'gauge',
      help: 'Whether the service is running and healthy (1) or not (0).',
      samples: perService((s) => (s.up ? 1 : 0)),
    },
    {
      name: 'system_manager_service_restarts_total',
      type: 'counter',
      help: 'Restarts of the service by the supervisor.',
      samples: perService((s) => s.restarts),
    },
    {
      name: 'system_manager_service_health_check_failures_total',
      type: 'counter',
      help: 'Failed health checks of the service.',
      samples: perService((s) => s.healthCheckFailures),
    },
    {
      name: 'system_manager_service_bad_messages_total',
      type: 'counter',
      help: 'Malformed or unknown IPC messages the service sent.',
      samples: perService((s) => s.badMessages),
    },
    {
      name: 'system_manager_service_spawn_resource_errors_total',
      type: 'counter',
      help: 'Spawns of the service that failed for want of descriptors or processes (EMFILE, ENFILE, EAGAIN) and were retried.',
      samples: perService((s) => s.spawnResourceErrors ?? 0),
    },
    {
      name: 'system_manager_session_store_up',
      type: 'gauge',
      help: 'Whether the session registry store answers (1) or not (0).',
      samples: [{ value: store.up ? 1 : 0 }],
    },
    {
      name: 'system_manager_session_store_info',
      type: 'gauge',
      help: 'The kind of session registry store in use (1 for that kind).',
      samples: STORE_KINDS.map((kind) => ({ labels: { kind }, value: store.kind === kind ? 1 : 0 })),
    },
    {
      name: 'system_manager_session_lease_renewals_total',
      type: 'counter',
      help: 'Session leases that counted as lost and were re-registered, or confirmed again by etcd.',
      samples: [{ value: store.leaseRenewals }],
    },
    {
      name: 'system_manager_session_lease_failures_total',
      type: 'counter',
      help: 'Session lease refreshes that failed.',
      samples: [{ value: store.leaseFailures }],
    },
    {
      name: 'system_manager_session_store_outages_total',
      type: 'counter',
      help: 'Times the session registry store stopped answering.',
      samples: [{ value: store.outages }],
    },
    {
      name: 'system_manager_session_store_unverified_entries_total',
      type: 'counter',
      help: 'Registry entries (records, claims) refused, never acted on, because they do not verify with the fleet key; each counted once.',
      samples: [{ value: store.unverifiedEntries ?? 0 }],
    },
    {
      name: 'system_manager_reap_cleanups_total',
      type: 'counter',
      help: "Cleanups run for dead sessions' resources by this manager, by resource kind and outcome (deleted, already-gone, killed, gone, failed, refused, skipped-…).",
      samples: (input.reap?.cleanups ?? []).map((c) => ({
        labels: { kind: c.kind, outcome: c.outcome },
        value: c.count,
      })),
    },
    {
      name: 'system_manager_session_adopted_resources',
      type: 'gauge',
      help: 'Resources of dead sessions whose cleanup failed, adopted by this session and retried at its shutdown, by kind: each may still exist (a VM still costs money).',
      samples: Object.entries(adopted).map(([kind, value]) => ({ labels: { kind }, value })),
    },
  ];
  return renderFamilies(families);
}
