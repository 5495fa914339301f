#!/usr/bin/env node
// The CLI layer stays thin: parse, call a library function, print. `--help`
// and `--version` load nothing but Node built-ins, so they answer in the time
// Node itself takes to start.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const USAGE = `Usage: system-manager <command> [options]

Boot orchestrator: starts the configured services with their ports, owns them
through this terminal's session, serves health/status/metrics, cleans up.

Commands:
  start                       start services and the control endpoint; SIGTERM stops, SIGHUP reloads the config
  status [--json] [--all-users]
                              every service of every running manager (like pm2 ls): state, health, pid, port,
                              uptime, restarts, CPU, memory; dead sessions' orphans with their pids and ports
  status --fleet [--json]     every host of a shared registry (Redis, etcd): its sessions and their liveness,
                              services and VMs recorded, lease time left
  ports [--resolve] [--json]  the ports of the running manager; without one the configured ports,
                              with --resolve where a start would go now (dry run)
  sessions cleanup [--json]   reap dead sessions: kill their orphaned services, run VM cleanup
  config check [--json]       validate the config and print it resolved (exit 78 naming every bad field)
  doctor [--json]             check the session directory, registry, store, ports, commands and clock
  restart <service...>        restart services now (through the manager's control socket)
  stop <service...>           stop services; they stay stopped (no restart, no health check) until started
  start <service...>          start stopped or failed services (with no service name: start the manager)
  signal <SIG> <service>      send a signal (HUP, INT, QUIT, TERM, KILL, USR1, USR2, CONT, STOP, WINCH)
  reload                      re-read the config file (as SIGHUP does) and print what changed
  describe <service>          definition, port, pid, restarts with reasons, health history, last lines
  logs [service] [-n N] [-f]  recent output of a service (all services, prefixed, without a name); -f follows
  top                         live view of the manager's services (like pm2 monit / htop): CPU, memory, cache
                              hit rate, lookups sparkline, last lines; keys restart/stop/start; q quits
  unit [--user <u>] [--group <g>] [--set <Key>=<value>]... [--no-hardening] [--allow-temp-paths]
                              print a systemd unit (Type=notify, sandboxed) that runs \`start\` at boot as <u>;
                              --set changes one hardening directive (NoNewPrivileges, ProtectSystem,
                              ProtectHome, PrivateTmp, RestrictSUIDSGID, LockPersonality, LimitNOFILE)
                              or adds a ReadWritePaths= directory; --no-hardening leaves them all out;
                              paths under /tmp, /var/tmp or $TMPDIR are refused unless --allow-temp-paths

Options:
  -c, --config <file>   JSON config file; default: $SYSTEM_MANAGER_CONFIG, else
                        /etc/system-manager/config.json (root) or
                        $XDG_CONFIG_HOME/system-manager/config.json, else a built-in example config
      --json            machine-readable result on stdout (logs stay on stderr)
      --session <id>    the manager to control when several run (default: the only one)
  -n, --lines <N>       logs: how many recent lines (default 20)
  -f, --follow          logs: keep printing new lines until Ctrl-C
  -h, --help            show this help
  -v, --version         show the version

Environment:
  SYSTEM_MANAGER_CONFIG       config file when --config is not given
  SYSTEM_MANAGER_PORT_<NAME>  override a named port (e.g. SYSTEM_MANAGER_PORT_MAIN_API=9000)
  CORE_SESSION_DIR            session directory (default: $XDG_STATE_HOME/system-manager, else
                              ~/.local/state/system-manager; /var/lib/system-manager in the generated unit)
  CORE_SESSION_REDIS_URL      fleet-wide session registry on Redis (redis://host:6379); a session is then a lease
  CORE_SESSION_ETCD_ENDPOINTS fleet-wide session registry on etcd (comma-separated client URLs, e.g.
                              https://10.0.0.5:2379,https://10.0.0.6:2379); a session is then an etcd lease
  LOG_LEVEL                   pino level (default info); logs are JSON lines unless stderr is a TTY
  SYSTEM_MANAGER_RUNTIME_DIR  directory of the control sockets (default $RUNTIME_DIRECTORY,
                              $XDG_RUNTIME_DIR/system-manager, /run/system-manager for root)

Exit codes: 0 ok, 1 failure, 2 usage error, 69 no manager running (EX_UNAVAILABLE),
77 control socket not yours to open (EX_NOPERM), 78 invalid config (EX_CONFIG).
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function usageError(message: string): never {
  process.stderr.write(`system-manager: ${message}\nRun 'system-manager --help' for usage.\n`);
  process.exit(2);
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  user: { type: 'string' },
  group: { type: 'string' },
  set: { type: 'string', multiple: true },
  'no-hardening': { type: 'boolean' },
  'allow-temp-paths': { type: 'boolean' },
  'all-users': { type: 'boolean' },
  fleet: { type: 'boolean' },
  resolve: { type: 'boolean' },
  session: { type: 'string' },
  lines: { type: 'string', short: 'n' },
  follow: { type: 'boolean', short: 'f' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
try {
  parsed = parseArgs({ args: process.argv.slice(2), options: OPTIONS, allowPositionals: true, strict: true });
} catch (error) {
  // Node's messages name the flag: "Unknown option '--nope'".
  usageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
}

const { values, positionals } = parsed;
if (values.help || positionals[0] === 'help') {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (values.version) {
  process.stdout.write(`${version()}\n`);
  process.exit(0);
}

const [command, ...rest] = positionals;
// Command → its subcommand (if it has one) and the options it takes besides --config and --json.
const COMMANDS: Record<string, { sub?: string; options: readonly string[]; args?: true }> = {
  start: { options: ['session'], args: true },
  restart: { options: ['session'], args: true },
  stop: { options: ['session'], args: true },
  signal: { options: ['session'], args: true },
  reload: { options: ['session'] },
  describe: { options: ['session'], args: true },
  logs: { options: ['session', 'lines', 'follow'], args: true },
  top: { options: ['session'] },
  status: { options: ['all-users', 'fleet'] },
  ports: { options: ['resolve'] },
  unit: { options: ['user', 'group', 'set', 'no-hardening', 'allow-temp-paths'] },
  sessions: { sub: 'cleanup', options: [] },
  config: { sub: 'check', options: [] },
  doctor: { options: [] },
};
if (command === undefined) usageError('missing command');
const spec = COMMANDS[command];
if (spec === undefined) usageError(`unknown command '${command}'`);
if (spec.sub !== undefined && rest[0] !== spec.sub)
  usageError(`unknown command '${command} ${rest[0] ?? ''}'`.trim());
const extra = rest.slice(spec.sub === undefined ? 0 : 1);
if (extra.length > 0 && spec.args !== true) usageError(`unexpected argument '${extra[0]}'`);
for (const name of [
  'user',
  'group',
  'set',
  'no-hardening',
  'allow-temp-paths',
  'all-users',
  'fleet',
  'resolve',
  'session',
  'lines',
  'follow',
] as const) {
  if (values[name] !== undefined && !spec.options.includes(name))
    usageError(`option '--${name}' does not apply to '${command}'`);
}

// PID 1 must reap orphans, which Node cannot: `start` then runs again under a reaper (init-process.ts).
if (command === 'start' && extra.length === 0 && process.pid === 1) {
  const [{ runAsInit }, { createLogger }] = await Promise.all([
    import('./init-process.js'),
    import('./logger.js'),
  ]);
  const status = await runAsInit(createLogger());
  if (status !== undefined) process.exit(status);
}

const { runCommand } = await import('./commands.js');
process.exitCode = await runCommand(command, {
  config: values.config,
  json: values.json === true,
  user: values.user,
  group: values.group,
  set: values.set,
  noHardening: values['no-hardening'] === true,
  allowTempPaths: values['allow-temp-paths'] === true,
  allUsers: values['all-users'] === true,
  fleet: values.fleet === true,
  resolve: values.resolve === true,
  session: values.session,
  lines: values.lines,
  follow: values.follow === true,
  args: extra,
});
