import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ALIASES } from '@core/ports';
import {
  type GlobalSessionManager,
  getSessionManager,
  judgeSession,
  type ResourceRecord,
  type SessionRecord,
} from '@core/session';
import type { RedisRegistryStore } from '@core/session-redis';
import { startCommand } from './commands/start.js';
import { loadConfig } from './config.js';
import { SystemManagerError } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { AsyncSystemManager } from './manager.js';
import { reapAndCleanUp } from './reaper.js';
import { createSessionStore } from './session-store.js';
import { currentTerminal } from './terminal.js';

/** Options every command takes. */
export interface CommandOptions {
  readonly config?: string | undefined;
  readonly json?: boolean | undefined;
}

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function reportError(log: Logger, error: unknown): number {
  if (error instanceof SystemManagerError) {
    log.error({ code: error.code, details: error.details }, error.message);
    const tail = error.details.length > 0 ? `\n  ${error.details.join('\n  ')}` : '';
    if (!process.stderr.isTTY) process.stderr.write(`system-manager: ${error.message}${tail}\n`);
    return 1;
  }
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('E_')) {
    // An expected, coded error of one of our packages: one line, no stack.
    log.error({ code }, (error as Error).message);
    return 1;
  }
  log.error({ err: error }, 'unexpected error');
  return 1;
}

/** Runs one CLI command and returns its exit code. Never calls process.exit except for a forced second signal. */
export async function runCommand(command: string, options: CommandOptions): Promise<number> {
  const log = createLogger();
  try {
    switch (command) {
      case 'start':
        return await startCommand(options, log);
      case 'status':
        return await statusCommand(options, log);
      case 'sessions':
        return await cleanupCommand(options, log);
      case 'ports':
        return await portsCommand(options);
      case 'unit':
        print(systemdUnit(options.config));
        return 0;
      default:
        throw new SystemManagerError('E_USAGE', `unknown command ${command}`);
    }
  } catch (error) {
    return reportError(log, error);
  }
}

interface SessionView {
  readonly sessionId: string;
  readonly pid: number;
  readonly hostname: string;
  readonly createdAt: number;
  /** Whether the session runs on this machine (with the fleet registry, sessions of every host are listed). */
  readonly thisHost: boolean;
  readonly thisTerminal: boolean;
  readonly services: { name: string; pid: number | null; port: number | null }[];
  readonly vms: { id: string; zone: string | null }[];
  readonly ports: Record<string, number>;
  readonly other: ResourceRecord[];
}

function viewSession(record: SessionRecord, terminal: string | null): SessionView {
  const services: SessionView['services'] = [];
  const vms: SessionView['vms'] = [];
  const ports: Record<string, number> = {};
  const other: ResourceRecord[] = [];
  let thisTerminal = false;
  const thisHost = record.hostname === os.hostname();
  for (const r of record.resources) {
    if (thisHost && terminal !== null && r.metadata?.['tty'] === terminal) thisTerminal = true;
    if (r.kind === 'process') {
      const port = r.metadata?.['port'];
      services.push({
        name: String(r.metadata?.['service'] ?? r.id),
        pid: r.pid ?? null,
        port: typeof port === 'number' ? port : null,
      });
    } else if (r.kind === 'vm') vms.push({ id: r.id, zone: r.zone ?? null });
    else if (r.kind === 'port') {
      const name = String(r.metadata?.['name'] ?? r.id);
      const port = Number(r.id.split(':').pop());
      ports[name] = port;
    } else other.push(r);
  }
  return {
    sessionId: record.sessionId,
    pid: record.pid,
    hostname: record.hostname,
    createdAt: record.createdAt,
    thisHost,
    thisTerminal,
    services,
    vms,
    ports,
    other,
  };
}

/** Runs `run` with this process's session on the registry the config/env selects, and closes a Redis connection afterwards. */
async function withSession<T>(
  options: CommandOptions,
  log: Logger,
  run: (session: GlobalSessionManager, store: RedisRegistryStore | undefined) => Promise<T>,
): Promise<T> {
  const store = createSessionStore(loadConfig(options.config), process.env, log);
  try {
    return await run(getSessionManager(store ? { store } : undefined), store);
  } finally {
    await store?.close();
  }
}

async function statusCommand(options: CommandOptions, log: Logger): Promise<number> {
  return withSession(options, log, async (session, store) => {
    let records: SessionRecord[];
    let staleSessions = 0;
    if (store) {
      // The fleet registry: list without reaping (reaping is `sessions cleanup`, which also cleans up).
      const fleet = await store.listSessions();
      records = fleet.filter((f) => f.live).map((f) => f.record);
      staleSessions = fleet.length - records.length;
    } else {
      // List without reaping: getAllActiveSessions() would drop stale sessions
      // from the registry without cleaning up what they own, and `sessions
      // cleanup` would then find no orphans to kill.
      const now = Date.now();
      const context = { now, maxAgeMs: session.maxSessionAgeHours * 3_600_000, hostname: session.hostname };
      const all = await session.store.list();
      records = all.filter((record) => judgeSession(record, context) !== 'stale');
      staleSessions = all.length - records.length;
    }
    const terminal = currentTerminal();
    const sessions = records
      .filter((s) => s.sessionId !== session.sessionId)
      .map((s) => viewSession(s, terminal))
      .sort((a, b) => a.createdAt - b.createdAt);
    const registry = store
      ? { kind: 'redis', location: store.location }
      : { kind: 'file', location: session.registryFile };
    if (options.json) {
      print(JSON.stringify({ registry, sessions, staleSessions }));
      return 0;
    }
    printSessions(sessions, store ? `in the fleet registry ${store.location}` : 'on this machine');
    if (staleSessions > 0)
      print(
        `${staleSessions} stale session${staleSessions === 1 ? '' : 's'} (owner gone${store ? ' or lease expired' : ''}) await 'system-manager sessions cleanup'`,
      );
    return 0;
  });
}

function printSessions(sessions: SessionView[], where: string): void {
  if (sessions.length === 0) {
    print(`no live sessions ${where}`);
    return;
  }
  for (const s of sessions) {
    const started = new Date(s.createdAt).toISOString().replace('T', ' ').slice(0, 19);
    print(`session ${s.sessionId}${s.thisTerminal ? '  (this terminal)' : ''}`);
    print(`  pid ${s.pid} on ${s.hostname}${s.thisHost ? ' (this host)' : ''}, since ${started} UTC`);
    for (const svc of s.services)
      print(
        `  service ${svc.name.padEnd(20)} pid ${String(svc.pid ?? '-').padEnd(8)} port ${svc.port ?? '-'}`,
      );
    for (const vm of s.vms) print(`  vm      ${vm.id.padEnd(20)} zone ${vm.zone ?? '-'}`);
    const ports = Object.entries(s.ports);
    if (ports.length > 0) print(`  ports   ${ports.map(([n, p]) => `${n}=${p}`).join(' ')}`);
    for (const r of s.other) print(`  ${r.kind.padEnd(7)} ${r.id}`);
  }
}

async function cleanupCommand(options: CommandOptions, log: Logger): Promise<number> {
  const config = loadConfig(options.config);
  // Cleanup runs inside the session's lifetime: a resource whose cleanup fails is adopted by this session.
  const report = await withSession(options, log, (session) =>
    reapAndCleanUp(session, config.cleanup, { graceMs: config.shutdown.graceMs, log }),
  );
  const { removed, actions, adopted } = report;
  if (options.json) print(JSON.stringify(report));
  else {
    print(`removed ${removed} stale session${removed === 1 ? '' : 's'}`);
    for (const a of actions) print(`  ${a.kind} ${a.id}: ${a.outcome}${a.detail ? ` (${a.detail})` : ''}`);
    if (adopted.length > 0)
      print(
        `${adopted.length} resource${adopted.length === 1 ? '' : 's'} could not be cleaned up; kept in the registry for the next cleanup`,
      );
  }
  return adopted.length > 0 ? 1 : 0;
}

async function portsCommand(options: CommandOptions): Promise<number> {
  const manager = new AsyncSystemManager({ config: options.config, logger: createLogger({ level: 'warn' }) });
  const resolution = await manager.portRegistry.resolve({ reserve: false });
  const aliases: Record<string, { name: string; port: number }> = {};
  for (const [alias, name] of Object.entries(DEFAULT_ALIASES)) {
    aliases[alias] = { name, port: (manager.ports as Record<string, number>)[name] as number };
  }
  if (options.json) {
    print(JSON.stringify({ ports: { ...manager.ports }, aliases, resolution }));
    return 0;
  }
  for (const [name, port] of Object.entries(manager.ports as Record<string, number>))
    print(`${name.padEnd(18)} ${port}`);
  print('aliases:');
  for (const [alias, { name, port }] of Object.entries(aliases))
    print(`  ${alias.padEnd(16)} → ${name} (${port})`);
  return 0;
}

/** A systemd unit that runs `system-manager start` at boot with this Node and this install. */
export function systemdUnit(configFile?: string): string {
  const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cli.js');
  const config = configFile ? ` --config ${path.resolve(configFile)}` : '';
  const graceSeconds = Math.ceil(loadConfig(configFile).shutdown.graceMs / 1000) + 5;
  return `[Unit]
Description=system-manager boot orchestrator
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${process.execPath} ${cli} start${config}
# SIGTERM stops the services, runs resource cleanup and unregisters the session.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=${graceSeconds}
Restart=on-failure
RestartSec=2
Environment=NODE_ENV=production
Environment=LOG_LEVEL=info

[Install]
WantedBy=multi-user.target
`;
}
