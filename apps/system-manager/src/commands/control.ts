// The operator's commands that go through a running manager's control
// socket: restart, stop, start, signal, reload, describe, logs.
import type { CommandOptions } from '../commands.js';
import type { ServiceActionOutcome } from '../control-socket/actions.js';
import { findManager, send } from '../control-socket/client.js';
import { OPERATOR_SIGNALS } from '../control-socket/protocol.js';
import { SystemManagerError } from '../errors.js';
import { print, printable } from './output.js';

/** How long a command waits for the manager: a restart waits for the service's health, up to its start timeout. */
const ANSWER_TIMEOUT_MS = 10 * 60_000;

/** `restart|stop|start <service…>`: exit 1 when any of them failed. */
export async function serviceActionCommand(
  command: 'restart' | 'stop' | 'start',
  services: readonly string[],
  options: CommandOptions,
): Promise<number> {
  if (services.length === 0)
    throw new SystemManagerError('E_USAGE', `${command} needs at least one service name`);
  const socket = await findManager(options.session);
  const outcomes = (await send(
    socket,
    { command, services: [...services] },
    ANSWER_TIMEOUT_MS,
  )) as ServiceActionOutcome[];
  if (options.json) print(JSON.stringify(outcomes));
  else
    for (const { service, outcome, error } of outcomes) {
      print(
        `${printable(service)}: ${outcome.replace('-', ' ')}${error ? ` (${printable(error.message)})` : ''}`,
      );
      for (const line of error?.details ?? []) print(`  ${printable(line)}`);
    }
  return outcomes.some((o) => o.outcome === 'failed') ? 1 : 0;
}

/** `signal <SIG> <service>`. */
export async function signalCommand(args: readonly string[], options: CommandOptions): Promise<number> {
  const [name, service, ...extra] = args;
  if (name === undefined || service === undefined || extra.length > 0)
    throw new SystemManagerError('E_USAGE', 'usage: signal <SIGNAL> <service>');
  const upper = name.toUpperCase();
  const signal = OPERATOR_SIGNALS.find((s) => s === upper || s === `SIG${upper}`);
  if (signal === undefined)
    throw new SystemManagerError('E_USAGE', `unknown signal ${name} (one of ${OPERATOR_SIGNALS.join(', ')})`);
  const socket = await findManager(options.session);
  const result = (await send(socket, { command: 'signal', signal, service }, ANSWER_TIMEOUT_MS)) as {
    pid: number | null;
  };
  print(
    options.json
      ? JSON.stringify(result)
      : `sent ${signal} to ${printable(service)} (pid ${result.pid ?? '-'})`,
  );
  return 0;
}

/** `reload`: what the reload did; exit 1 when a service did not become healthy. */
export async function reloadCommand(options: CommandOptions): Promise<number> {
  const socket = await findManager(options.session);
  const report = (await send(socket, { command: 'reload' }, ANSWER_TIMEOUT_MS)) as Record<
    string,
    readonly string[]
  >;
  if (options.json) print(JSON.stringify(report));
  else
    for (const key of ['started', 'restarted', 'stopped', 'unchanged', 'unhealthy', 'needsRestart'])
      print(`${key.padEnd(13)} ${(report[key] ?? []).map(printable).join(', ') || '-'}`);
  return (report['unhealthy'] ?? []).length > 0 ? 1 : 0;
}

/** `describe <service>`. */
export async function describeCommand(args: readonly string[], options: CommandOptions): Promise<number> {
  const [service, ...extra] = args;
  if (service === undefined || extra.length > 0)
    throw new SystemManagerError('E_USAGE', 'usage: describe <service>');
  const socket = await findManager(options.session);
  const d = (await send(socket, { command: 'describe', service }, ANSWER_TIMEOUT_MS)) as Describe;
  if (options.json) {
    print(JSON.stringify(d));
    return 0;
  }
  const at = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : '-');
  const lines = [
    `name:          ${printable(d.name)}`,
    `state:         ${d.state}${d.stoppedBy ? ` (stopped by ${printable(d.stoppedBy.user)} at ${at(d.stoppedBy.at)})` : ''}`,
    `health:        ${d.health}`,
    `pid:           ${d.pid ?? '-'}`,
    `started at:    ${at(d.startedAt)}`,
    `port:          ${d.port} (${printable(d.portName)})`,
    `command:       ${[d.definition.command, ...(d.definition.args ?? [])].map((a) => printable(String(a))).join(' ')}`,
    `restart:       ${d.definition.restart} (max ${d.definition.maxRestarts} within ${d.definition.restartWindowMs} ms)`,
    `restarts:      ${d.restarts}`,
    `last exit:     ${d.lastExit ? `code ${d.lastExit.code ?? '-'}, signal ${d.lastExit.signal ?? '-'} at ${at(d.lastExit.at)}` : '-'}`,
    'restart history:',
    ...(d.restartHistory.length === 0
      ? ['  -']
      : d.restartHistory.map(
          (r) =>
            `  ${at(r.at)}  ${r.reason}${r.exit ? ` (code ${r.exit.code ?? '-'}, signal ${r.exit.signal ?? '-'})` : ''}${r.by ? ` by ${printable(r.by.user)}` : ''}`,
        )),
    `health checks: ${d.healthHistory.map((h) => (h.ok ? '✓' : '✗')).join('') || '-'}`,
    `output:        ${outputOf(d.logs)}`,
    'last lines:',
    ...(d.lastLines.length === 0 ? ['  -'] : d.lastLines.map((l) => `  ${printable(l)}`)),
  ];
  print(lines.join('\n'));
  return 0;
}

/** `logs [service] [-n N] [-f]`. */
export async function logsCommand(args: readonly string[], options: CommandOptions): Promise<number> {
  const [service, ...extra] = args;
  if (extra.length > 0) throw new SystemManagerError('E_USAGE', 'usage: logs [service] [-n N] [-f]');
  const lines = options.lines === undefined ? 20 : Number(options.lines);
  if (!Number.isInteger(lines) || lines < 0 || lines > 10_000)
    throw new SystemManagerError(
      'E_USAGE',
      `-n must be a whole number from 0 to 10000, not ${options.lines}`,
    );
  const socket = await findManager(options.session);
  const show = (line: { service: string; text: string }) =>
    print(
      options.json
        ? JSON.stringify(line)
        : service === undefined
          ? `${printable(line.service)} | ${printable(line.text)}`
          : printable(line.text),
    );
  const request = {
    command: 'logs',
    service: service ?? null,
    lines,
    follow: options.follow === true,
  } as const;
  if (!request.follow) {
    const recent = (await send(socket, request, ANSWER_TIMEOUT_MS)) as { service: string; text: string }[];
    for (const line of recent) show(line);
    return 0;
  }
  // Followed until Ctrl-C (or SIGTERM): then the connection is closed and the command exits 0.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await send(socket, request, null, { onLine: show, signal: stop.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}

interface Describe {
  name: string;
  state: string;
  health: string;
  pid: number | null;
  startedAt: number | null;
  port: number;
  portName: string;
  restarts: number;
  lastExit: { code: number | null; signal: string | null; at: number } | null;
  stoppedBy: { user: string; at: number } | null;
  definition: {
    command: string;
    args?: unknown[];
    restart: string;
    maxRestarts: number;
    restartWindowMs: number;
  };
  restartHistory: {
    at: number;
    reason: string;
    exit: { code: number | null; signal: string | null } | null;
    by: { user: string } | null;
  }[];
  healthHistory: { ok: boolean }[];
  lastLines: string[];
  logs?: DescribedLogs;
}

/** `services[].logs` of `/status` as `describe` shows it (fields from a manager of another version may be missing). */
type DescribedLogs = {
  destination?: string;
  writer?: string;
  dir?: string;
  file?: string;
  identifier?: string;
  writers?: { stream?: string; pid?: number | null; restarts?: number }[];
};

function outputOf(logs: DescribedLogs | undefined): string {
  if (logs?.destination === 'journald')
    return `the journal (journalctl -t ${printable(String(logs.identifier))})`;
  if (logs?.destination === 'manager') return "the manager's log";
  if (logs?.destination !== 'file') return '-';
  if (logs.writer === 's6-log') {
    const writers = (logs.writers ?? [])
      .map((w) => `${w.stream} pid ${w.pid ?? '-'}, ${w.restarts ?? 0} restarts`)
      .join('; ');
    return `${printable(String(logs.dir))}/{stdout,stderr} written by s6-log (${writers})`;
  }
  return `${printable(String(logs.file))} written by the manager`;
}
