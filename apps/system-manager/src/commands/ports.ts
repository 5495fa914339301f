// `system-manager ports`: the ports in use when a manager runs; else the
// configured ones, or with --resolve the dry run of where a start would go.
import type { CommandOptions, LazyLogger } from '../commands.js';
import { discoverConfig } from '../config-discovery.js';
import { BUILTIN_ALIASES, builtinConfiguredPorts } from './configured-ports.js';
import { fetchLiveStatus } from './live-status.js';
import { print } from './output.js';
import { readSessions } from './read-only-context.js';
import { sessionPorts } from './session-ports.js';

/** The ports of one running manager. */
export interface LivePorts {
  readonly sessionId: string;
  readonly pid: number;
  readonly ports: Readonly<Record<string, number>>;
  readonly aliases: Readonly<Record<string, { name: string; port: number }>>;
  /** `control`: from its GET /status; `registry`: its port reservations (it did not answer). */
  readonly source: 'control' | 'registry';
}

function aliasesOf(ports: Readonly<Record<string, number>>): LivePorts['aliases'] {
  const aliases: Record<string, { name: string; port: number }> = {};
  for (const [alias, name] of Object.entries(BUILTIN_ALIASES)) {
    const port = ports[name];
    if (port !== undefined) aliases[alias] = { name, port };
  }
  return aliases;
}

function render(ports: Readonly<Record<string, number>>, aliases: LivePorts['aliases']): string[] {
  const lines = Object.entries(ports).map(([name, port]) => `${name.padEnd(18)} ${port}`);
  lines.push('aliases:');
  for (const [alias, { name, port }] of Object.entries(aliases))
    lines.push(`  ${alias.padEnd(16)} → ${name} (${port})`);
  return lines;
}

/** `system-manager ports [--resolve] [--json]`. Read-only: creates no files. */
export async function portsCommand(options: CommandOptions, log: LazyLogger): Promise<number> {
  if (!options.resolve) {
    const view = await readSessions(options, log);
    const running = view.listings.filter((l) => l.liveness === 'live' && l.thisHost);
    if (running.length > 0) {
      const managers: LivePorts[] = [];
      for (const { record } of running) {
        const reserved = sessionPorts(record);
        const live = reserved['control'] === undefined ? null : await fetchLiveStatus(reserved['control']);
        const fromLive =
          live !== null && (live.sessionId === undefined || live.sessionId === record.sessionId);
        const ports = fromLive && live?.ports && Object.keys(live.ports).length > 0 ? live.ports : reserved;
        managers.push({
          sessionId: record.sessionId,
          pid: record.pid,
          ports,
          aliases: aliasesOf(ports),
          source: fromLive ? 'control' : 'registry',
        });
      }
      if (options.json) print(JSON.stringify({ source: 'live', managers }));
      else
        for (const m of managers) {
          print(
            `ports in use by the manager pid ${m.pid} (session ${m.sessionId}${m.source === 'registry' ? ', from the registry: it did not answer' : ''}):`,
          );
          print(render(m.ports, m.aliases).join('\n'));
        }
      return 0;
    }
  }
  // No manager runs (or --resolve): what a start would use.
  if (!options.resolve && discoverConfig({ flag: options.config }).file === null) {
    const fast = builtinConfiguredPorts(process.env);
    if (fast) return printConfigured(options, fast.ports, fast.aliases, null);
  }
  const [{ AsyncSystemManager }, { createLogger }, { loadConfigWithSource }] = await Promise.all([
    import('../manager.js'),
    import('../logger.js'),
    import('../config.js'),
  ]);
  const { config } = loadConfigWithSource({ flag: options.config });
  const manager = new AsyncSystemManager({ config, logger: createLogger({ level: 'warn' }) });
  const resolution = options.resolve ? await manager.portRegistry.resolve({ reserve: false }) : null;
  const ports = { ...(manager.ports as Record<string, number>) };
  return printConfigured(options, ports, aliasesOf(ports), resolution);
}

function printConfigured(
  options: CommandOptions,
  ports: Readonly<Record<string, number>>,
  aliases: LivePorts['aliases'],
  resolution: unknown,
): number {
  if (options.json) {
    print(
      JSON.stringify({ source: options.resolve ? 'resolved' : 'configured', ports, aliases, resolution }),
    );
    return 0;
  }
  print(
    options.resolve
      ? 'no manager is running; where a start would go now (dry run, nothing reserved):'
      : "no manager is running; configured ports ('ports --resolve' probes where a start would go):",
  );
  print(render(ports, aliases).join('\n'));
  return 0;
}
