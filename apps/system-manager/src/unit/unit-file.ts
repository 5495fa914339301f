// The systemd unit `system-manager unit` prints: what a careful sysadmin
// would write by hand, computed from the config and the environment in effect.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SystemManagerConfig } from '../config.js';
import { EX_CONFIG, SystemManagerError } from '../errors.js';
import { environmentWord, execLine, plainPath, UnitSyntaxError } from './systemd-syntax.js';

/** Name of the RuntimeDirectory= (`/run/system-manager`) of the system unit. */
export const RUNTIME_DIRECTORY = 'system-manager';
/** The session directory of the boot instance, under its RuntimeDirectory (see `status --all-users`). */
export const SYSTEM_SESSION_DIR = `/run/${RUNTIME_DIRECTORY}/sessions`;
/** Optional file of extra (secret) environment for the unit, mode 0600: the unit file itself is world-readable. */
export const UNIT_ENVIRONMENT_FILE = '/etc/system-manager/environment';
/** Seconds added on top of the computed stop and start budgets. */
const MARGIN_SECONDS = 15;

/** What the unit is generated from. */
export interface UnitInputs {
  readonly config: SystemManagerConfig;
  /** Absolute config file path, or null for the built-in config (then no `--config`). */
  readonly configFile: string | null;
  readonly user: string;
  readonly group: string;
  /** Environment at generation time: PATH and every SYSTEM_MANAGER_* / CORE_SESSION_* variable is carried over. */
  readonly env: NodeJS.ProcessEnv;
  /** The Node binary ExecStart runs (default: this one). */
  readonly nodePath: string;
  /** The CLI script ExecStart runs (default: this install's). */
  readonly cliPath: string;
  /** Node flags ExecStart passes (a run from TypeScript source needs its loader). */
  readonly execArgv?: readonly string[];
}

/** A unit we refuse to write; the message says what to do instead. */
export class UnitError extends SystemManagerError {
  constructor(message: string, details: readonly string[] = []) {
    super('E_UNIT', message, { details });
    this.name = 'UnitError';
  }
}

const CACHES: readonly [RegExp, string][] = [
  [/\/_npx\//, 'the npx cache'],
  [/\/\.pnpm-store\/|\/pnpm\/store\//, 'the pnpm store'],
  [/\/pnpm\/dlx\/|\/dlx-\d+\//, 'the pnpm dlx cache'],
  [/\/\.cache\/pnpm\//, 'the pnpm cache'],
  [/\/\.yarn\/berry\/cache\/|\/yarn\/dlx-/, 'the yarn cache'],
  [/\/bunx-/, 'the bunx cache'],
];

/** The package-manager cache a path lies in (npx, pnpm dlx…), or null when it is a stable install. */
export function packageCacheOf(file: string): string | null {
  for (const [pattern, name] of CACHES) if (pattern.test(file)) return name;
  return null;
}

// Variables a sysadmin sets to change where the manager puts things; carried into the unit.
const CARRIED = /^(SYSTEM_MANAGER_|CORE_SESSION_)/;
// The config file is passed as --config; the notify binary override is for tests.
const NOT_CARRIED = new Set(['SYSTEM_MANAGER_CONFIG', 'SYSTEM_MANAGER_NOTIFY_BINARY']);

/** A value that holds a credential (a URL with a password) must not go into a world-readable unit file. */
function holdsCredential(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(value);
}

/** PATH as the unit should see it: absolute entries only (a relative one would resolve against WorkingDirectory=). */
function unitPath(env: NodeJS.ProcessEnv): string {
  const entries = (env['PATH'] ?? '').split(':').filter((p) => path.isAbsolute(p));
  const unique = [...new Set(entries)];
  return unique.length > 0
    ? unique.join(':')
    : '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
}

/** Worst case of one shutdown: services' grace, then each kind's cleanup command run to its timeout. */
export function stopBudgetSeconds(config: SystemManagerConfig): number {
  const cleanupMs = Object.values(config.cleanup).reduce((sum, c) => sum + c.timeoutMs, 0);
  return Math.ceil((config.shutdown.graceMs + cleanupMs) / 1000) + MARGIN_SECONDS;
}

/** Worst case of one start: reaping a dead session (as a stop), then the slowest service's health wait. */
export function startBudgetSeconds(config: SystemManagerConfig): number {
  const slowest = Math.max(0, ...config.services.map((s) => s.startTimeoutMs));
  return stopBudgetSeconds(config) + Math.ceil(slowest / 1000);
}

function wrap(fn: () => string, what: string): string {
  try {
    return fn();
  } catch (error) {
    if (error instanceof UnitSyntaxError) throw new UnitError(`${what}: ${error.message}`);
    throw error;
  }
}

/**
 * The unit text. Refuses (UnitError) when ExecStart would point into a
 * package-manager cache, or a value cannot be written in unit syntax.
 */
export function renderUnit(inputs: UnitInputs): { text: string; warnings: string[] } {
  const warnings: string[] = [];
  for (const [what, file] of [
    ['the CLI', inputs.cliPath],
    ['Node', inputs.nodePath],
  ] as const) {
    const cache = packageCacheOf(file);
    if (cache !== null) {
      throw new UnitError(
        `ExecStart would run ${what} from ${cache} (${file}), which is pruned at any time: install system-manager for good first`,
        [
          'npm install --global system-manager --registry <your registry>   # or: pnpm add --global system-manager',
          'then run the installed copy: sudo "$(npm prefix --global)/bin/system-manager" unit --user <user>',
        ],
      );
    }
  }
  if (!/^[a-z_][a-z0-9_-]*\$?$/i.test(inputs.user) || !/^[a-z_][a-z0-9_-]*\$?$/i.test(inputs.group))
    throw new UnitError(
      `not a user/group name systemd accepts: ${JSON.stringify(inputs.user)}:${JSON.stringify(inputs.group)}`,
    );

  const args = [...(inputs.execArgv ?? []), inputs.cliPath, 'start'];
  if (inputs.configFile !== null) args.push('--config', inputs.configFile);
  const execStart = wrap(() => execLine(inputs.nodePath, args), 'ExecStart');
  const workingDirectory =
    inputs.configFile === null
      ? '~'
      : wrap(() => plainPath(path.dirname(inputs.configFile as string)), 'WorkingDirectory');

  const environment: [string, string][] = [
    ['PATH', unitPath(inputs.env)],
    ['NODE_ENV', 'production'],
    ['LOG_LEVEL', inputs.env['LOG_LEVEL'] ?? 'info'],
  ];
  let sessionDir = SYSTEM_SESSION_DIR;
  for (const [name, value] of Object.entries(inputs.env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!CARRIED.test(name) || NOT_CARRIED.has(name) || value === undefined) continue;
    if (holdsCredential(value)) {
      warnings.push(
        `$${name} holds a password: left out of the unit file (world-readable); put it into ${UNIT_ENVIRONMENT_FILE} (mode 0600)`,
      );
      continue;
    }
    if (name === 'CORE_SESSION_DIR') sessionDir = value;
    else environment.push([name, value]);
  }
  environment.push(['CORE_SESSION_DIR', sessionDir]);
  const environmentLines = environment
    .map(([name, value]) => `Environment=${wrap(() => environmentWord(name, value), `Environment ${name}`)}`)
    .join('\n');

  const stopSeconds = stopBudgetSeconds(inputs.config);
  const text = `# Generated by \`system-manager unit\`. Check: systemd-analyze verify <this file>
[Unit]
Description=system-manager boot orchestrator
Documentation=${pathToFileURL(path.join(path.dirname(inputs.cliPath), '..', 'README.md')).href.replaceAll('%', '%%')}
After=network-online.target
Wants=network-online.target

[Service]
# READY=1 is sent once every service answers its health check, so units ordered After= this one start after that.
Type=notify
# The notification is sent by systemd-notify, a child of the manager.
NotifyAccess=all
User=${inputs.user}
Group=${inputs.group}
# Relative paths in the config resolve against its directory.
WorkingDirectory=${workingDirectory}
ExecStart=${execStart}
# SIGHUP re-reads the config; an invalid one is refused and the running one kept.
ExecReload=/bin/kill -HUP $MAINPID
${environmentLines}
# Secrets (e.g. CORE_SESSION_REDIS_URL with a password) go here, mode 0600; optional.
EnvironmentFile=-${UNIT_ENVIRONMENT_FILE}
# /run/${RUNTIME_DIRECTORY} (owned by User=) holds the session directory; kept across restarts so that
# the next start can still reap what a crashed run left behind.
RuntimeDirectory=${RUNTIME_DIRECTORY}
RuntimeDirectoryMode=0755
RuntimeDirectoryPreserve=yes
# SIGTERM to the manager alone: it stops its services and runs each resource's cleanup itself;
# whatever is left when TimeoutStopSec= runs out is SIGKILLed.
KillMode=mixed
KillSignal=SIGTERM
# shutdown.graceMs + every cleanup command's timeoutMs + ${MARGIN_SECONDS} s: a VM delete is never cut short.
TimeoutStopSec=${stopSeconds}
# Reaping a dead run (as long as a stop) + the slowest service's startTimeoutMs + ${MARGIN_SECONDS} s.
TimeoutStartSec=${startBudgetSeconds(inputs.config)}
# The manager pets the watchdog from its event loop when this is set, e.g. WatchdogSec=30
Restart=on-failure
RestartSec=2
# Exit ${EX_CONFIG} (EX_CONFIG) is an invalid config: restarting cannot help, fix it and \`systemctl restart\`.
RestartPreventExitStatus=${EX_CONFIG}

[Install]
WantedBy=multi-user.target
`;
  return { text, warnings };
}
