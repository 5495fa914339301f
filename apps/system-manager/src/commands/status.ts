// `system-manager status`: like `pm2 ls` — one row per service of every live
// manager, live from its control endpoint, the registry when it does not answer.
import { isDeepStrictEqual } from 'node:util';
import type { ResourceRecord, SessionRecord } from '@core/session';
import type { CommandOptions, LazyLogger } from '../commands.js';
import { fetchLiveStatus, type LiveService, type LiveStatus } from './live-status.js';
import { print, printable, table } from './output.js';
import { readProcessUsage } from './proc-stats.js';
import { readSessions, type SessionView } from './read-only-context.js';
import { sessionPorts } from './session-ports.js';

/** One service row (the same data in the table and in `--json`). */
export interface ServiceRow {
  readonly session: string;
  readonly service: string;
  readonly state: string;
  readonly health: 'ok' | 'failing' | 'unknown';
  readonly pid: number | null;
  readonly port: number | null;
  readonly portName: string | null;
  readonly uptimeSeconds: number | null;
  readonly restarts: number | null;
  /** How its previous process ended (as the manager reports it), or null. */
  readonly lastExit: unknown;
  readonly cpuPercent: number | null;
  readonly memoryBytes: number | null;
  /** Who stopped it (`stop <service>`), while it is held stopped; null otherwise. */
  readonly stoppedBy: string | null;
  /** `control`: the manager answered GET /status; `registry`: it did not, the row is from its session record. */
  readonly source: 'control' | 'registry';
}

/** A process a dead session left running (or that is gone already). */
export interface Orphan {
  readonly service: string;
  readonly pid: number | null;
  readonly port: number | null;
  /** Still running (same pid and start time as recorded). */
  readonly running: boolean;
}

/** One session in the status document. */
export interface SessionStatus {
  readonly sessionId: string;
  readonly pid: number;
  readonly hostname: string;
  readonly thisHost: boolean;
  readonly liveness: 'live' | 'dead' | 'unknown';
  readonly reason: string;
  readonly createdAt: number;
  readonly sessionDir: string | null;
  readonly controlPort: number | null;
  /** Whether its control endpoint answered. */
  readonly answered: boolean;
  readonly services: readonly ServiceRow[];
  readonly orphans: readonly Orphan[];
  readonly vms: readonly { id: string; zone: string | null }[];
  readonly ports: Readonly<Record<string, number>>;
}

/** The whole `status --json` document. */
export interface StatusDocument {
  readonly registry: SessionView['registry'];
  readonly sessions: readonly SessionStatus[];
  /** Present when a dead session left something behind. */
  readonly hint: string | null;
}

function processResources(record: SessionRecord): ResourceRecord[] {
  return record.resources.filter((r) => r.kind === 'process');
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function usageOf(pid: number | null, expectedStart?: string) {
  if (pid === null) return null;
  const usage = readProcessUsage(pid);
  // A reused pid is another process: its numbers are not this service's.
  if (usage === null || (expectedStart !== undefined && usage.startTime !== expectedStart)) return null;
  return usage;
}

function liveRow(sessionId: string, svc: LiveService, now: number): ServiceRow {
  const pid = numberOrNull(svc.pid);
  const usage = svc.state === 'exited' ? null : usageOf(pid);
  const health = svc.health ?? (svc.state === 'healthy' ? 'ok' : 'unknown');
  const startedAt = numberOrNull(svc.startedAt);
  return {
    session: sessionId,
    service: svc.name,
    state: svc.state ?? 'unknown',
    stoppedBy: svc.stoppedBy ?? null,
    health,
    pid,
    port: numberOrNull(svc.port),
    portName: svc.portName ?? null,
    uptimeSeconds:
      startedAt !== null ? Math.max(0, (now - startedAt) / 1000) : (usage?.uptimeSeconds ?? null),
    restarts: numberOrNull(svc.restarts),
    lastExit: svc.lastExit ?? null,
    cpuPercent: usage?.cpuPercent ?? null,
    memoryBytes: usage?.memoryBytes ?? null,
    source: 'control',
  };
}

function registryRow(sessionId: string, r: ResourceRecord, thisHost: boolean): ServiceRow {
  const pid = r.pid ?? null;
  const usage = thisHost ? usageOf(pid, r.processStartTime) : null;
  const port = numberOrNull(r.metadata?.['port']);
  return {
    session: sessionId,
    service: String(r.metadata?.['service'] ?? r.id),
    state: !thisHost ? 'unknown' : usage ? 'running' : 'gone',
    stoppedBy: null,
    health: 'unknown',
    pid,
    port,
    portName: typeof r.metadata?.['portName'] === 'string' ? (r.metadata['portName'] as string) : null,
    uptimeSeconds: usage?.uptimeSeconds ?? null,
    restarts: null,
    lastExit: null,
    cpuPercent: usage?.cpuPercent ?? null,
    memoryBytes: usage?.memoryBytes ?? null,
    source: 'registry',
  };
}

/** Builds the status document: asks every live manager on this host, falls back to its record. */
export async function collectStatus(view: SessionView, now = Date.now()): Promise<StatusDocument> {
  const sessions = await Promise.all(
    [...view.listings]
      .sort((a, b) => a.record.createdAt - b.record.createdAt)
      .map(async (listing): Promise<SessionStatus> => {
        const { record } = listing;
        const ports = sessionPorts(record);
        const controlPort = ports['control'] ?? null;
        let live: LiveStatus | null = null;
        if (listing.liveness === 'live' && listing.thisHost && controlPort !== null) {
          live = await fetchLiveStatus(controlPort);
          // Whatever answers on that port must be this session's manager, not a stranger that took the port.
          if (live !== null && live.sessionId !== undefined && live.sessionId !== record.sessionId)
            live = null;
        }
        const dead = listing.liveness === 'dead';
        const services = dead
          ? []
          : live
            ? live.services.map((s) => liveRow(record.sessionId, s, now))
            : processResources(record).map((r) => registryRow(record.sessionId, r, listing.thisHost));
        const orphans = dead
          ? processResources(record).map((r) => {
              const row = registryRow(record.sessionId, r, listing.thisHost);
              return { service: row.service, pid: row.pid, port: row.port, running: row.state === 'running' };
            })
          : [];
        return {
          sessionId: record.sessionId,
          pid: record.pid,
          hostname: record.hostname,
          thisHost: listing.thisHost,
          liveness: listing.liveness,
          reason: listing.reason,
          createdAt: record.createdAt,
          sessionDir: listing.sessionDir,
          controlPort,
          answered: live !== null,
          services,
          orphans,
          vms: record.resources
            .filter((r) => r.kind === 'vm')
            .map((r) => ({ id: r.id, zone: r.zone ?? null })),
          ports: live?.ports && !isDeepStrictEqual(live.ports, {}) ? live.ports : ports,
        };
      }),
  );
  const leftovers = sessions.some((s) => s.liveness === 'dead' && (s.orphans.length > 0 || s.vms.length > 0));
  const anyDead = sessions.some((s) => s.liveness === 'dead');
  return {
    registry: view.registry,
    sessions,
    hint: anyDead
      ? `${leftovers ? 'dead sessions left resources behind: ' : ''}run 'system-manager sessions cleanup' to stop orphans, clean up and remove dead sessions`
      : null,
  };
}

function formatUptime(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

function formatBytes(bytes: number | null): string {
  if (bytes === null) return '-';
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)}kb`;
  return `${(bytes / 1024 / 1024).toFixed(1)}mb`;
}

const dash = (v: number | string | null) => (v === null ? '-' : String(v));

/** The human rendering of the status document. */
export function renderStatus(doc: StatusDocument): string {
  const lines: string[] = [];
  const listed = doc.sessions.filter((s) => s.liveness !== 'dead');
  const rows = listed.flatMap((s) =>
    s.services.map((r) => [
      printable(s.sessionId.slice(0, 8)),
      printable(r.service),
      r.source === 'registry'
        ? `${r.state}*`
        : r.stoppedBy
          ? `${r.state} (by ${printable(r.stoppedBy)})`
          : r.state,
      r.health,
      dash(r.pid),
      dash(r.port),
      formatUptime(r.uptimeSeconds),
      dash(r.restarts),
      r.cpuPercent === null ? '-' : `${r.cpuPercent.toFixed(1)}%`,
      formatBytes(r.memoryBytes),
    ]),
  );
  if (listed.length === 0)
    lines.push(`no live sessions (${doc.registry.kind} registry: ${doc.registry.locations.join(', ')})`);
  else {
    for (const s of listed) {
      const where = `on ${printable(s.hostname)}${s.thisHost ? ' (this host)' : ''}`;
      const control =
        s.controlPort === null
          ? 'no control port'
          : s.answered
            ? `control 127.0.0.1:${s.controlPort}`
            : `control port ${s.controlPort} not answering: rows marked * are from the registry`;
      lines.push(`session ${printable(s.sessionId)} pid ${s.pid} ${where}, ${s.liveness}, ${control}`);
      for (const vm of s.vms) lines.push(`  vm ${printable(vm.id)} zone ${printable(vm.zone)}`);
    }
    if (rows.length > 0)
      lines.push(
        table(
          ['SESSION', 'SERVICE', 'STATE', 'HEALTH', 'PID', 'PORT', 'UPTIME', 'RESTARTS', 'CPU', 'MEM'],
          rows,
        ),
      );
  }
  for (const s of doc.sessions.filter((x) => x.liveness === 'dead')) {
    lines.push(
      `dead session ${printable(s.sessionId)} (pid ${s.pid} on ${printable(s.hostname)}): ${printable(s.reason)}`,
    );
    for (const o of s.orphans)
      lines.push(
        `  orphan ${printable(o.service)} pid ${dash(o.pid)} port ${dash(o.port)} ${o.running ? '(still running)' : '(gone)'}`,
      );
    for (const vm of s.vms)
      lines.push(`  vm ${printable(vm.id)} zone ${printable(vm.zone)} (not cleaned up)`);
  }
  if (doc.hint) lines.push(doc.hint);
  return lines.join('\n');
}

/** `system-manager status [--json] [--all-users]`. Read-only: creates no files. */
export async function statusCommand(options: CommandOptions, log: LazyLogger): Promise<number> {
  const doc = await collectStatus(await readSessions(options, log));
  print(options.json ? JSON.stringify(doc) : renderStatus(doc));
  return 0;
}
