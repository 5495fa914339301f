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
  start [--config <file>]     start services and the control endpoint; Ctrl-C / SIGTERM stops them
  status [--config <file>] [--json]
                              live sessions with their resources and ports (every host's with a Redis registry)
  sessions cleanup [--config <file>] [--json]
                              reap stale sessions: kill their orphaned services, run VM cleanup
  ports [--config <file>] [--json]
                              resolved ports and aliases
  unit [--config <file>]      print a systemd unit that runs \`start\` at boot

Options:
  -c, --config <file>   JSON config file (default: built-in config with an example cache service)
      --json            machine-readable result on stdout (logs stay on stderr)
  -h, --help            show this help
  -v, --version         show the version

Environment:
  SYSTEM_MANAGER_PORT_<NAME>  override a named port (e.g. SYSTEM_MANAGER_PORT_MAIN_API=9000)
  CORE_SESSION_DIR            session directory (default: a private folder under the OS temp dir)
  CORE_SESSION_REDIS_URL      fleet-wide session registry on Redis (redis://host:6379); a session is then a lease
  LOG_LEVEL                   pino level (default info); logs are JSON lines unless stderr is a TTY

Exit codes: 0 ok, 1 failure, 2 usage error.
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

let parsed: ReturnType<
  typeof parseArgs<{
    options: {
      config: { type: 'string'; short: 'c' };
      json: { type: 'boolean' };
      help: { type: 'boolean'; short: 'h' };
      version: { type: 'boolean'; short: 'v' };
    };
    allowPositionals: true;
    strict: true;
  }>
>;
try {
  parsed = parseArgs({
    args: process.argv.slice(2),
    options: {
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    allowPositionals: true,
    strict: true,
  });
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
const known: Record<string, number> = { start: 0, status: 0, ports: 0, unit: 0, sessions: 1 };
if (command === undefined) usageError('missing command');
if (!(command in known)) usageError(`unknown command '${command}'`);
if (command === 'sessions' && rest[0] !== 'cleanup')
  usageError(`unknown command 'sessions ${rest[0] ?? ''}'`.trim());
if (rest.length > (known[command] ?? 0)) usageError(`unexpected argument '${rest[known[command] ?? 0]}'`);
if (values.config !== undefined && !['start', 'status', 'ports', 'unit', 'sessions'].includes(command)) {
  usageError(`option '--config' does not apply to '${command}'`);
}

const { runCommand } = await import('./commands.js');
process.exitCode = await runCommand(command, { config: values.config, json: values.json === true });
