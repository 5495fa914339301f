// `system-manager status --fleet`: one row per host of a shared registry
// (Redis or etcd) — its sessions with their liveness, the services and VMs
// they recorded, and the time their leases have left. Liveness is
// @core/session's verdict on the store's lease evidence (the same listing
// `status` uses); the lease times are only shown. A file registry is this
// machine's alone: `--fleet` is then a usage error (exit 2) that says so.
import type { SessionRecord } from '@core/session';
import type { CommandOptions, LazyLogger } from '../commands.js';
import { SystemManagerError } from '../errors.js';
import { type FleetStore, type FleetStoreKind, fleetStoreKind } from '../fleet-store.js';
import { print, printable, table, warnLine } from './output.js';
import { configIfAny } from './read-only-context.js';
import { defaultSessionDir, type Liveness, listSessions, type SessionListing } from './sessions-source.js';

/** One session of a host. */
export interface FleetSession {
  readonly sessionId: string;
  readonly pid: number;
  readonly liveness: Liveness;
  readonly reason: string;
  readonly createdAt: number;
  /** Services (process resources) it recorded. */
  readonly services: number;
  /** VMs it recorded. */
  readonly vms: number;
  /** Time its lease has left as the store counts it (ms), or null without one. */
  readonly leaseTtlMs: number | null;
}

/** One host of the fleet. */
export interface FleetHost {
  readonly hostname: string;
  /** Its host identity (a digest), or null for records that carry none. */
  readonly hostId: string | null;
  readonly thisHost: boolean;
  readonly counts: {
    readonly sessions: number;
    readonly live: number;
    readonly dead: number;
    readonly unknown: number;
    readonly services: number;
    readonly vms: number;
  };
  /** The least time any of its sessions' leases has left (ms), or null when none has one. */
  readonly leaseTtlMs: number | null;
  readonly sessions: readonly FleetSession[];
}

/** The whole `status --fleet --json` document. */
export interface FleetDocument {
  readonly registry: { readonly kind: FleetStoreKind; readonly location: string };
  readonly hosts: readonly FleetHost[];
}

/** How long a one-shot look waits for the store before it reports it unavailable. */
const LOOK_TIMEOUT_MS = 3_000;

const countOf = (record: SessionRecord, kind: string) =>
  record.resources.filter((r) => r.kind === kind).length;

/** Groups listed sessions by host identity (the hostname for records without one). */
export function fleetHosts(
  listings: readonly SessionListing[],
  ttls: ReadonlyMap<string, number>,
): FleetHost[] {
  const byHost = new Map<string, SessionListing[]>();
  for (const listing of listings) {
    const key = listing.record.hostId ? `id:${listing.record.hostId}` : `name:${listing.record.hostname}`;
    byHost.set(key, [...(byHost.get(key) ?? []), listing]);
  }
  const hosts = [...byHost.values()].map((group): FleetHost => {
    const sessions = [...group]
      .sort((a, b) => a.record.createdAt - b.record.createdAt)
      .map(
        ({ record, liveness, reason }): FleetSession => ({
          sessionId: record.sessionId,
          pid: record.pid,
          liveness,
          reason,
          createdAt: record.createdAt,
          services: countOf(record, 'process'),
          vms: countOf(record, 'vm'),
          leaseTtlMs: ttls.get(record.sessionId) ?? null,
        }),
      );
    const leases = sessions.flatMap((s) => (s.leaseTtlMs === null ? [] : [s.leaseTtlMs]));
    const newest = group.reduce((a, b) => (b.record.createdAt > a.record.createdAt ? b : a));
    const sum = (pick: (s: FleetSession) => number) => sessions.reduce((total, s) => total + pick(s), 0);
    return {
      hostname: newest.record.hostname,
      hostId: newest.record.hostId ?? null,
      thisHost: group.some((l) => l.thisHost),
      counts: {
        sessions: sessions.length,
        live: sessions.filter((s) => s.liveness === 'live').length,
        dead: sessions.filter((s) => s.liveness === 'dead').length,
        unknown: sessions.filter((s) => s.liveness === 'unknown').length,
        services: sum((s) => s.services),
        vms: sum((s) => s.vms),
      },
      leaseTtlMs: leases.length === 0 ? null : Math.min(...leases),
      sessions,
    };
  });
  return hosts.sort(
    (a, b) => Number(b.thisHost) - Number(a.thisHost) || a.hostname.localeCompare(b.hostname),
  );
}

/** `1.6s`, `29s`, `5m`: what is left of a lease. */
export function formatTtl(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 10_000) return `${(ms / 1_000).toFixed(1)}s`;
  if (ms < 600_000) return `${Math.floor(ms / 1_000)}s`;
  return `${Math.floor(ms / 60_000)}m`;
}

function sessionsCell(c: FleetHost['counts']): string {
  const parts = [
    c.live > 0 ? `${c.live} live` : '',
    c.dead > 0 ? `${c.dead} dead` : '',
    c.unknown > 0 ? `${c.unknown} unknown` : '',
  ].filter((p) => p !== '');
  return parts.length === 0 ? String(c.sessions) : `${c.sessions} (${parts.join(', ')})`;
}

/** The human rendering: a row per host, then a row per session. */
export function renderFleet(doc: FleetDocument): string {
  const where = `registry: ${printable(doc.registry.location)}`;
  if (doc.hosts.length === 0) return `no sessions in the fleet (${where})`;
  const sessions = doc.hosts.reduce((n, h) => n + h.counts.sessions, 0);
  const lines = [`fleet of ${doc.hosts.length} host(s), ${sessions} session(s) (${where})`];
  lines.push(
    table(
      ['HOST', 'HOST ID', 'SESSIONS', 'SERVICES', 'VMS', 'LEASE TTL'],
      doc.hosts.map((h) => [
        `${printable(h.hostname)}${h.thisHost ? ' (this host)' : ''}`,
        printable(h.hostId?.slice(0, 12) ?? '-'),
        sessionsCell(h.counts),
        String(h.counts.services),
        String(h.counts.vms),
        formatTtl(h.leaseTtlMs),
      ]),
    ),
  );
  lines.push('');
  lines.push(
    table(
      ['HOST', 'SESSION', 'PID', 'LIVENESS', 'SERVICES', 'VMS', 'LEASE TTL', 'WHY'],
      doc.hosts.flatMap((h) =>
        h.sessions.map((s) => [
          printable(h.hostname),
          printable(s.sessionId.slice(0, 8)),
          String(s.pid),
          s.liveness,
          String(s.services),
          String(s.vms),
          formatTtl(s.leaseTtlMs),
          printable(s.reason),
        ]),
      ),
    ),
  );
  if (doc.hosts.some((h) => h.counts.dead > 0))
    lines.push("dead sessions are reaped by 'system-manager sessions cleanup' (from any host)");
  return lines.join('\n');
}

/** Opens the fleet store the config and env name, or explains (exit 2) that the registry is not shared. */
async function openFleetStore(options: CommandOptions, log: LazyLogger): Promise<FleetStore> {
  const config = await configIfAny(options);
  const [{ createSessionStore }, { parseConfig }] = await Promise.all([
    import('../session-store.js'),
    import('../config.js'),
  ]);
  // A one-shot look reads an absent lease as expired at once (the lease is gone on the server);
  // `sessions cleanup` still waits one lease TTL after connecting before it reaps on that.
  const store = createSessionStore(config ?? parseConfig({}), process.env, log.get(), {
    unavailableTimeoutMs: LOOK_TIMEOUT_MS,
    settleMs: 0,
  });
  if (store === undefined)
    throw new SystemManagerError(
      'E_USAGE',
      `status --fleet: the session registry is this host's directory (${defaultSessionDir()}), which no other host shares: there is no fleet to show. ` +
        "Name a shared registry (CORE_SESSION_REDIS_URL or CORE_SESSION_ETCD_ENDPOINTS, or session.redisUrl / session.etcd in the config), or run 'system-manager status' for this host",
    );
  return store;
}

/** Reads the fleet: every session with its liveness and lease time left. */
export async function collectFleet(store: FleetStore): Promise<FleetDocument> {
  const listings = await listSessions({ store, warn: warnLine });
  const ttls = (await store.leaseTtlsLeft?.(listings.map((l) => l.record.sessionId))) ?? new Map();
  return {
    registry: { kind: fleetStoreKind(store), location: store.location },
    hosts: fleetHosts(listings, ttls),
  };
}

/** `system-manager status --fleet [--json]`. Read-only: writes nothing to the store or the disk. */
export async function fleetStatusCommand(options: CommandOptions, log: LazyLogger): Promise<number> {
  if (options.allUsers)
    throw new SystemManagerError(
      'E_USAGE',
      "status: '--fleet' lists the shared registry and '--all-users' this machine's session directories: give one of them",
    );
  const store = await openFleetStore(options, log);
  let doc: FleetDocument;
  try {
    doc = await collectFleet(store);
  } finally {
    await store.close();
  }
  print(options.json ? JSON.stringify(doc) : renderFleet(doc));
  return 0;
}
