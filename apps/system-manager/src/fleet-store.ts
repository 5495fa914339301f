// The app's view of a fleet-wide session store (Redis or etcd): only what
// status, store health, the manager and reaping read, written structurally so
// neither store package is loaded (or named in the published declarations)
// by the code that reads it. Which kind a store is, and how its reaps are
// fenced, is recorded when ./session-store.ts makes it: the store objects
// themselves carry no such tag.
import type {
  CleanupResult,
  ResourceCleanup,
  ResourceRecord,
  SessionRecord,
  SessionStore,
} from '@core/session';

/** The fleet-wide stores this app can use. */
export type FleetStoreKind = 'redis' | 'etcd';

/** One lease renewal as both stores report it (Redis: kept, restored, taken-over; etcd: confirmed, kept, taken-over). */
export interface FleetLeaseRenewal {
  /** Epoch ms. */
  readonly at: number;
  /** The lease that counted as lost. */
  readonly previousLeaseId: string;
  /** The lease now, or null when a reaper had taken the record over. */
  readonly leaseId: string | null;
  /** What became of it. */
  readonly outcome: 'confirmed' | 'kept' | 'restored' | 'taken-over';
}

/** A fleet store's connection events, as store health follows them. */
export interface FleetStoreEvents {
  /** The store stopped answering (once per outage). */
  outage: [{ readonly at: number; readonly error: Error | null }];
  /** It answers again. */
  reconnected: [{ readonly at: number; readonly downtimeMs: number }];
}

/**
 * A session store shared by a fleet, with the readable state the app shows:
 * `RedisRegistryStore` of `@core/session-redis` and `EtcdSessionStore` of
 * `@core/session-etcd` both fit.
 */
export interface FleetStore extends SessionStore {
  /** Where it is (servers and key prefix), for messages and `/status`. */
  readonly location: string;
  /** Whether the last request reached the store. */
  readonly connected: boolean;
  /** This session's lease, or null while it needs none. */
  readonly leaseId: string | null;
  /** Lifetime of a lease without a heartbeat, as configured (ms). */
  readonly leaseTtlMs: number;
  /** Lease renewals after a loss, oldest first. */
  readonly leaseRenewals: readonly FleetLeaseRenewal[];
  /** Entries refused because they do not verify with the fleet key (Redis with a key); absent when the store signs nothing. */
  readonly unverifiedEntries?: number;
  /**
   * Read-only, for display: ms each of `sessionIds`' leases has left, as the
   * store counts it (etcd: the server's TTL; Redis: the lease key's PTTL);
   * absent for a session without one. Optional: a store made elsewhere may lack it.
   */
  leaseTtlsLeft?(sessionIds: readonly string[]): Promise<ReadonlyMap<string, number>>;
  /** Whether absent leases can be trusted (the store answered without a break for one settle period). */
  readonly settled: boolean;
  /** Resolves once {@link FleetStore.settled}, or when `signal` aborts. */
  whenSettled(signal?: AbortSignal): Promise<void>;
  /** Follows an outage or its end. */
  on<E extends keyof FleetStoreEvents>(event: E, listener: (...args: FleetStoreEvents[E]) => void): unknown;
  /** Stops heartbeats and closes the connection. */
  close(): Promise<void>;
}

/** A cleanup that receives the fencing token of the take-over it runs under. */
export type TokenCleanup = (
  resource: ResourceRecord,
  owner: SessionRecord,
  fence: { readonly token: string },
) => Promise<CleanupResult>;

/**
 * Wraps a {@link TokenCleanup} for `reapDeadSessions`: checks before each
 * resource that the take-over still holds the dead session and hands the
 * cleanup its token (`fencedCleanup` of `@core/session-etcd`).
 */
export type CleanupFencing = (cleanup: TokenCleanup) => ResourceCleanup;

/** What ./session-store.ts records about a store it made. */
export interface FleetStoreTraits {
  readonly kind: FleetStoreKind;
  /** Present when the store's take-overs carry fencing tokens (etcd). */
  readonly fencing?: CleanupFencing | undefined;
}

// Keyed by the store object: the manager, the reaper and status all hold the
// same object, and a store that is gone takes its entry with it.
const traits = new WeakMap<object, FleetStoreTraits>();

/** Records what kind of store `store` is (called by ./session-store.ts when it makes one). */
export function recordFleetStore(store: FleetStore, recorded: FleetStoreTraits): void {
  traits.set(store, recorded);
}

/**
 * The kind of a store made by `createSessionStore`. A store made elsewhere
 * (an embedder passing its own) counts as `redis`, the kind this app
 * supported first, whose status fields every fleet store shares.
 */
export function fleetStoreKind(store: FleetStore): FleetStoreKind {
  return traits.get(store)?.kind ?? 'redis';
}

/** How reaps through `store` are fenced, or undefined when its take-overs carry no token (file, Redis). */
export function cleanupFencingOf(store: SessionStore | undefined): CleanupFencing | undefined {
  return store === undefined ? undefined : traits.get(store)?.fencing;
}
