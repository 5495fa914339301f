// The systemd unit `system-manager unit` prints: what a careful sysadmin
// would write by hand, computed from the config and the environment in effect.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SystemManagerConfig } from '../config.js';
import { EX_CONFIG } from '../errors.js';
import { DEFAULT_HARDENING, hardeningLines, type UnitHardening } from './hardening.js';
import {
  HOME_ROOTS,
  pathsUnder,
  refuseTemporaryPaths,
  rootHolding,
  temporaryDirectories,
  type UnitPath,
} from './path-places.js';
import { environmentWord, execLine, plainPath, UnitSyntaxError } from './systemd-syntax.js';
import { UnitError } from './unit-error.js';

export { UnitError } from './unit-error.js';

/** Name of the RuntimeDirectory= (`/run/system-manager`) of the system unit. */
export const RUNTIME_DIRECTORY = 'system-manager';
/** Name of the StateDirectory= (`/var/lib/system-manager`, `$STATE_DIRECTORY`) of the system unit. */
export const STATE_DIRECTORY = 'system-manager';
/**
 * The session directory of the boot instance: its StateDirectory, on
 * persistent storage, so a VM recorded before a power loss is cleaned after
 * the reboot (see `status --all-users`).
 */
export const SYSTEM_SESSION_DIR = `/var/lib/${STATE_DIRECTORY}`;
/** Where the boot instance kept its sessions before (emptied at reboot): imported from at start. */
export const EARLIER_SYSTEM_SESSION_DIR = `/run/${RUNTIME_DIRECTORY}/sessions`;
/** The directories a unit's PATH starts with, whatever PATH the caller of `unit` has. */
export const UNIT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
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
  /** Environment at generation time: every SYSTEM_MANAGER_* / CORE_SESSION_* variable is carried over (PATH is not). */
  readonly env: NodeJS.ProcessEnv;
  /** The Node binary ExecStart runs (default: this one). */
  readonly nodePath: string;
  /** The CLI script ExecStart runs (default: this install's). */
  readonly cliPath: string;
  /** Node flags ExecStart passes (a run from TypeScript source needs its loader). */
  readonly execArgv?: readonly string[];
  /** The sandboxing directives (default: every one at its protective value). */
  readonly hardening?: UnitHardening;
  /** Write paths under a temp directory anyway (tests, demos), with a warning instead of a refusal. */
  readonly allowTemporaryPaths?: boolean;
  /** The temp directories refused (default: /tmp, /var/tmp and the OS temp dir). */
  readonly temporaryDirectories?: readonly string[];
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

/**
 * PATH as the unit should see it: the system directories, then the directory
 * of the Node that runs the unit (for services started as `node`/`npx`).
 * Never the caller's PATH: whatever a login shell had (~/bin, ., a dev
 * toolchain) would decide what a bare command name runs at every boot. The
 * system directories come first, so nothing installed next to Node shadows them.
 */
function unitPath(nodePath: string): string {
  const nodeDir = path.dirname(nodePath);
  if (nodeDir.includes(':'))
    throw new UnitError(`Node's directory ${JSON.stringify(nodeDir)} holds a ":", which PATH cannot carry`, [
      'install Node (or a symlink to it) in a directory without ":"',
    ]);
  return [...new Set([...UNIT_PATH.split(':'), nodeDir])].join(':');
}

/** Services' working directories and commands given as paths (a bare command name is looked up on PATH). */
function servicePaths(config: SystemManagerConfig): UnitPath[] {
  return config.services.flatMap((s) => [
    ...(s.cwd !== undefined && path.isAbsolute(s.cwd)
      ? [{ what: `service ${JSON.stringify(s.name)} cwd`, path: s.cwd }]
      : []),
    ...(path.isAbsolute(s.command)
      ? [{ what: `service ${JSON.stringify(s.name)} command`, path: s.command }]
      : []),
  ]);
}

function isWithin(file: string, dir: string): boolean {
  return rootHolding(file, [dir]) !== null;
}

const ROOT_WARNING =
  'the unit runs the manager and every service as root (User=root): give it a user of its own, e.g. sudo useradd --system --user-group --shell /usr/sbin/nologin system-manager && sudo system-manager unit --user system-manager';

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
 * The sandboxing lines: refuses paths under temp directories (or warns, with
 * `allowTemporaryPaths`), then makes writable what the manager needs (the
 * state directory, a session directory outside the runtime one) and leaves
 * the rest to the hardening directives.
 */
function sandbox(inputs: UnitInputs, sessionDir: string, warnings: string[]): string {
  const hardening = inputs.hardening ?? DEFAULT_HARDENING;
  const services = servicePaths(inputs.config);
  // What the unit runs or reads, and the paths it makes writable: none may be volatile.
  const used: UnitPath[] = [
    { what: 'ExecStart Node', path: inputs.nodePath },
    { what: 'ExecStart CLI', path: inputs.cliPath },
    ...(inputs.configFile === null ? [] : [{ what: 'the config', path: inputs.configFile }]),
    ...(sessionDir === SYSTEM_SESSION_DIR ? [] : [{ what: 'CORE_SESSION_DIR', path: sessionDir }]),
    ...services,
  ];
  const added = hardening.readWritePaths.map((dir) => ({ what: 'ReadWritePaths', path: dir }));
  const temporary = inputs.temporaryDirectories ?? temporaryDirectories();
  if (inputs.allowTemporaryPaths !== true) refuseTemporaryPaths([...used, ...added], temporary);
  else {
    const found = pathsUnder([...used, ...added], temporary);
    if (found.length > 0)
      warnings.push(
        `--allow-temp-paths: ${found.map((p) => `${p.what} ${p.path}`).join(', ')} under a temp directory: a unit for a test or a demo only (emptied at reboot; PrivateTmp=yes gives the service a /tmp and /var/tmp of its own)`,
      );
  }

  const stateDir = `/var/lib/${STATE_DIRECTORY}`;
  const runtimeDir = `/run/${RUNTIME_DIRECTORY}`;
  const writable = [
    {
      path: stateDir,
      why: 'The state directory (StateDirectory=, $STATE_DIRECTORY): what the manager and the services keep across reboots.',
    },
    ...(isWithin(sessionDir, runtimeDir) || isWithin(sessionDir, stateDir)
      ? []
      : [
          {
            path: sessionDir,
            why: `CORE_SESSION_DIR, outside ${runtimeDir} and ${stateDir}: writable here, and it must exist before the unit starts.`,
          },
        ]),
  ];
  const serviceDirs = new Set(
    inputs.config.services.flatMap((s) => (s.cwd !== undefined && path.isAbsolute(s.cwd) ? [s.cwd] : [])),
  );
  return wrap(
    () =>
      hardeningLines({
        hardening,
        writable,
        servicesUnderHome: pathsUnder(services, HOME_ROOTS),
        unitUnderHome: pathsUnder(used, HOME_ROOTS),
        readOnlyServiceDirs: [...serviceDirs].filter(
          (dir) => ![runtimeDir, ...writable.map((w) => w.path)].some((w) => isWithin(dir, w)),
        ),
      }).join('\n'),
    'ReadWritePaths',
  );
}

/**
 * The unit text and the warnings for stderr. Refuses (UnitError) when
 * ExecStart would point into a package-manager cache, a path lies under a
 * temp directory, a `--set` choice would stop the unit from running, or a
 * value cannot be written in unit syntax.
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
  if (inputs.user === 'root') warnings.push(ROOT_WARNING);

  const args = [...(inputs.execArgv ?? []), inputs.cliPath, 'start'];
  if (inputs.configFile !== null) args.push('--config', inputs.configFile);
  const execStart = wrap(() => execLine(inputs.nodePath, args), 'ExecStart');
  const workingDirectory =
    inputs.configFile === null
      ? '~'
      : wrap(() => plainPath(path.dirname(inputs.configFile as string)), 'WorkingDirectory');

  const environment: [string, string][] = [
    ['PATH', unitPath(inputs.nodePath)],
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
    // Empty means unset to the session package too: the unit's own directory then.
    if (name === 'CORE_SESSION_DIR') sessionDir = value === '' ? SYSTEM_SESSION_DIR : value;
    else environment.push([name, value]);
  }
  if (!path.isAbsolute(sessionDir))
    throw new UnitError(
      `$CORE_SESSION_DIR must be an absolute path in a unit, got ${JSON.stringify(sessionDir)}`,
    );
  environment.push(['CORE_SESSION_DIR', sessionDir]);
  const environmentLines = environment
    .map(([name, value]) => `Environment=${wrap(() => environmentWord(name, value), `Environment ${name}`)}`)
    .join('\n');

  const sandboxLines = sandbox(inputs, sessionDir, warnings);

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
# /run/${RUNTIME_DIRECTORY} (owned by User=): runtime files; where earlier versions kept the sessions,
# which a start imports into the state directory (writable for that under ProtectSystem=strict).
RuntimeDirectory=${RUNTIME_DIRECTORY}
RuntimeDirectoryMode=0755
RuntimeDirectoryPreserve=yes
# /var/lib/${STATE_DIRECTORY} (owned by User=, $STATE_DIRECTORY for the manager and its services): data kept
# across reboots — the session registry (so the next boot reaps what a power loss left) and the service logs.
StateDirectory=${STATE_DIRECTORY}
StateDirectoryMode=0700
${sandboxLines}
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
