import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { BUILTIN_PORTS, namedPorts } from './commands/configured-ports.js';
import { type ConfigDiscovery, type ConfigSource, discoverConfig } from './config-discovery.js';
import { GROUP_NAME, groupId, unknownGroup } from './control-socket/socket-group.js';
import { ConfigError } from './errors.js';
import { etcdConfigIssues, etcdSessionSchema, resolveEtcdPaths } from './etcd-config.js';

const portNumber = z.number().int().min(1).max(65535);
const portName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'a port name in snake_case (e.g. "main_api")');

const httpHealth = z.object({
  type: z.literal('http'),
  /** Path probed with GET on 127.0.0.1:<port>; any 2xx is healthy. */
  path: z
    .string()
    .regex(
      /^\/[!-~]*$/,
      'a path starting with "/", of visible ASCII characters (no spaces: percent-encode them)',
    )
    .default('/health'),
});
const tcpHealth = z.object({ type: z.literal('tcp') });

// ---- supervision: restart policy, liveness, log limits -------------------------------
// One self-contained block so the rest of this file can change independently.
// (Unions of literals rather than z.enum: the enum's object type would need TSDoc per value.)

/** Per-service supervision fields (merged into `services[]`). */
export const supervisionFields = {
  /** When an exited service is restarted: "on-failure" (non-zero exit or signal), "always", or "never". */
  restart: z.union([z.literal('on-failure'), z.literal('always'), z.literal('never')]).default('on-failure'),
  /** Restarts allowed within `restartWindowMs`; one more and the service is `failed`. */
  maxRestarts: z.number().int().min(0).default(5),
  restartWindowMs: z.number().int().positive().default(60_000),
  /** Delay before restart n: `initialMs * 2^(n-1)` capped at `maxMs`; back to `initialMs` once healthy for `resetAfterMs`. */
  backoff: z
    .object({
      initialMs: z.number().int().min(0).default(100),
      maxMs: z.number().int().min(0).default(30_000),
      resetAfterMs: z.number().int().positive().default(10_000),
    })
    .strict()
    .prefault({}),
  /** Consecutive failed liveness checks (every `intervals.healthMs`) after which a running service is restarted. */
  unhealthyAfter: z.number().int().positive().default(3),
};

/** `supervision` (top level): what the manager itself does when a service is `failed`. */
export const supervisionSchema = z
  .object({
    /** "exit": stop everything and exit with `failedExitCode`, so systemd's own `Restart=` takes over. */
    onServiceFailed: z.union([z.literal('exit'), z.literal('keep-running')]).default('exit'),
    failedExitCode: z.number().int().min(1).max(125).default(70),
  })
  .strict()
  .prefault({});

/** `logs` (top level): where each service's stdout/stderr go, and their bounds. */
export const logsSchema = z
  .object({
    /**
     * "auto": journald when the manager runs under systemd (`$JOURNAL_STREAM`), else "file".
     * "journald": each service's streams connected straight to the journal (SYSLOG_IDENTIFIER = its name).
     * "file": `<dir>/<service>/{stdout,stderr}/` written by an s6-log process per stream (the manager writes
     * `<dir>/<service>.log` itself when s6-log is not on PATH), rotated by size; every byte kept.
     * "manager": every line into the manager's own log, rate-limited (`maxLinesPerSecond`).
     */
    destination: z
      .union([z.literal('auto'), z.literal('file'), z.literal('journald'), z.literal('manager')])
      .default('auto'),
    /** Directory of the log files (default: `logs/` in `$STATE_DIRECTORY`, `$XDG_STATE_HOME/system-manager` or `~/.local/state/system-manager`). */
    dir: z.string().min(1).optional(),
    /** A log file is rotated at a line end when it reaches about this many bytes (s6-log: within 2,000 bytes; at most 256 MiB). */
    maxFileBytes: z
      .number()
      .int()
      .min(4_096)
      .default(10 * 1024 * 1024),
    /** Rotated files kept per stream (s6-log's `@<TAI64N>.s`) or per service (`<service>.log.1` newest …); older ones are deleted. */
    keepFiles: z.number().int().min(0).max(100).default(5),
    /** journald's stream socket. */
    journalSocket: z.string().startsWith('/').default('/run/systemd/journal/stdout'),
    /** "manager": longer lines are cut to this many characters (and marked `truncated`). */
    maxLineLength: z.number().int().min(64).default(8_192),
    /** "manager": lines per second forwarded per service (burst: one second's worth); the rest are counted as dropped. */
    maxLinesPerSecond: z.number().int().positive().default(1_000),
  })
  .strict()
  .prefault({});

/** Liveness probe interval added to `intervals`. */
export const healthIntervalMs = z.number().int().positive().default(5_000);
// ---- end of supervision block -------------------------------------------------------

/** Schema of one service (`services[]` in a config file). */
export const serviceSchema = z.object({
  name: z
    .string()
    .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'a service name of letters, digits, "_", "." or "-"'),
  /** Executable; the token "{node}" is this Node.js binary. */
  command: z.string().min(1),
  /** Arguments; "{builtin:<file>}" is a file shipped in this app (e.g. the example cache service). */
  args: z.array(z.string()).default([]),
  /** Named port (from `ports`) the service listens on; it gets it as PORT in its environment. */
  port: portName,
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string()).default({}),
  health: z.discriminatedUnion('type', [httpHealth, tcpHealth]).default({ type: 'http', path: '/health' }),
  /** How long the service may take to become healthy. */
  startTimeoutMs: z.number().int().positive().default(10_000),
  ...supervisionFields,
});

/** Schema of one resource kind's cleanup command (`cleanup.<kind>` in a config file). */
export const cleanupSchema = z.object({
  /**
   * Command template run for each resource of this kind; "{id}", "{zone}", "{kind}", "{metadata.<key>}"
   * are substituted, and "{token}" (the etcd registry only) is the fencing token of the reap it runs under.
   */
  command: z.array(z.string()).min(1),
  /** A regular expression: output matching it counts as done ("not found" means already gone). */
  notFoundPattern: z.string().default('not found|was not found|does not exist'),
  timeoutMs: z.number().int().positive().default(60_000),
});

/** Schema of a system-manager config file (JSON). */
export const configSchema = z
  .object({
    /**
     * Named ports. A built-in default (main_api 8010, websocket_router 8001, frontend 3000,
     * llama_cpp 8080, event_ui 8888) is named by a service's `port` or a `fallbacks` key
     * alone; `control` (8099) always is. Only named ports are resolved and reserved.
     */
    ports: z.record(portName, portNumber).default({}),
    /** Ports tried, in order, when a name's preferred port is busy. */
    fallbacks: z.record(portName, z.array(portNumber)).default({}),
    /** Range searched when the preferred port and its fallbacks are all busy. */
    dynamicRange: z.tuple([portNumber, portNumber]).default([20_000, 20_999]),
    services: z.array(serviceSchema).default([]),
    /** Cleanup command per resource kind (e.g. "vm"), run for this session's resources at shutdown and for stale sessions' resources when reaping. */
    cleanup: z.record(z.string(), cleanupSchema).default({}),
    intervals: z
      .object({
        /** Invariant checks (stats, ports, the session's records of what this manager owns); also the interval after one that healed something. */
        validateMs: z.number().int().positive().default(30_000),
        /** While the checks find everything consistent, the interval between them doubles up to this. */
        validateIdleMs: z.number().int().positive().default(300_000),
        healthPollMs: z.number().int().positive().default(25),
        /** Liveness checks of running services (see `unhealthyAfter`); also the interval after a failed one. */
        healthMs: healthIntervalMs,
        /**
         * While a service keeps passing, the interval between its checks doubles up to this: a hung
         * service is noticed within `healthIdleMs + (unhealthyAfter - 1) * healthMs`. Set it to
         * `healthMs` for a fixed interval.
         */
        healthIdleMs: z.number().int().positive().default(30_000),
      })
      .prefault({}),
    shutdown: z.object({ graceMs: z.number().int().positive().default(5_000) }).prefault({}),
    /** The control socket (`<runtime dir>/<session id>.sock`): mode 0600, only the manager's user may use it. */
    control: z
      .object({
        /**
         * A group (name or gid) whose members may use the control socket too:
         * it is then 0660 of that group, in a directory 0750 of it. Read at start.
         */
        socketGroup: z
          .union([
            z.string().regex(GROUP_NAME, 'a group name (letters, digits, _ . -)'),
            z.number().int().min(0).max(4_294_967_294),
          ])
          .optional(),
      })
      .strict()
      .prefault({}),
    supervision: supervisionSchema,
    logs: logsSchema,
    /**
     * Where sessions are registered. Without `redisUrl` or `etcd` (and
     * without the env vars CORE_SESSION_REDIS_URL, CORE_SESSION_ETCD_ENDPOINTS):
     * the file registry of this machine. With one of them: the fleet-wide
     * Redis or etcd registry, where a session is a lease.
     */
    session: z
      .object({
        redisUrl: z
          .string()
          .regex(
            /^rediss?(\+sentinel)?:\/\/[^/]/,
            'a URL like redis://host:6379, rediss://… (TLS) or redis+sentinel://s1:26379,s2:26379/<master name>',
          )
          .optional(),
        /** Sentinels to ask for the master (with `masterName`); `redisUrl` then gives scheme, credentials and db. */
        sentinels: z
          .array(z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65_535) }).strict())
          .min(1)
          .optional(),
        masterName: z
          .string()
          .regex(/^[A-Za-z0-9._-]{1,64}$/, 'a Sentinel master name')
          .optional(),
        /** Replicas that must acknowledge a record or claim write (`WAIT`); default: those connected. */
        replicasToAck: z.union([z.literal('auto'), z.number().int().min(0).max(64)]).optional(),
        replicaAckTimeoutMs: z.number().int().min(1).optional(),
        keyPrefix: z
          .string()
          .regex(/\{[^{}]+\}/, 'a prefix holding one Redis Cluster hash tag, like {core-session}:')
          .optional(),
        leaseTtlMs: z.number().int().min(100).default(30_000),
        heartbeatMs: z.number().int().min(10).default(10_000),
        /**
         * File holding the fleet key (at least 32 bytes, mode 0600 or 0400):
         * the Redis registry's entries are signed with it and unsigned ones
         * refused. Default: env CORE_SESSION_FLEET_KEY_FILE, else the systemd
         * credential `fleet-key` ($CREDENTIALS_DIRECTORY/fleet-key) when present.
         */
        fleetKeyFile: z.string().min(1).optional(),
        /** The fleet-wide etcd registry (instead of Redis): its cluster, key prefix, TLS and user. */
        etcd: etcdSessionSchema.optional(),
      })
      .strict()
      .refine((s) => s.heartbeatMs < s.leaseTtlMs, {
        message: 'heartbeatMs must be below leaseTtlMs',
        path: ['heartbeatMs'],
      })
      .prefault({}),
  })
  .strict();

/** A validated config (defaults filled in). */
export type SystemManagerConfig = z.output<typeof configSchema>;
/** A config as written in a file (optional fields may be left out). */
export type SystemManagerConfigInput = z.input<typeof configSchema>;
/** One configured service. */
export type ServiceConfig = SystemManagerConfig['services'][number];
/** How a resource kind is cleaned up. */
export type CleanupConfig = z.output<typeof cleanupSchema>;

/** Directory of files shipped with the app (the example service), next to this module in src/ or dist/. */
export const BUILTIN_DIR = path.dirname(fileURLToPath(import.meta.url));

/**
 * The built-in default config: one real example service (an HTTP cache
 * service shipped in this app) on `main_api`, so `start` on a fresh machine
 * shows a live service, live ports and live stats.
 */
export const DEFAULT_CONFIG: SystemManagerConfigInput = {
  fallbacks: {
    main_api: [8011, 8012, 8013, 8014],
    control: [8100, 8101, 8102, 8103],
  },
  services: [
    {
      name: 'cache-service',
      command: '{node}',
      args: ['{builtin:example/cache-service}'],
      port: 'main_api',
      health: { type: 'http', path: '/health' },
    },
  ],
  cleanup: {
    vm: {
      command: ['gcloud', 'compute', 'instances', 'delete', '{id}', '--zone', '{zone}', '--quiet'],
      notFoundPattern: 'not found|was not found',
    },
  },
};

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
  return `${where}: ${issue.message}`;
}

/** Checks zod cannot express: every problem found, one line each (empty when all is well). */
function crossFieldIssues(config: SystemManagerConfig): string[] {
  const lines: string[] = [];
  const names = new Set<string>();
  for (const [index, service] of config.services.entries()) {
    if (names.has(service.name))
      lines.push(`services.${index}.name: duplicate service name "${service.name}"`);
    names.add(service.name);
  }
  if (config.dynamicRange[0] > config.dynamicRange[1]) {
    lines.push(`dynamicRange: expected [from, to] with from <= to, got [${config.dynamicRange.join(', ')}]`);
  }
  lines.push(...portIssues(config));
  lines.push(...etcdConfigIssues(config.session));
  const { socketGroup } = config.control;
  if (socketGroup !== undefined && groupId(socketGroup) === null) lines.push(unknownGroup(socketGroup));
  for (const [kind, cleanup] of Object.entries(config.cleanup)) {
    try {
      new RegExp(cleanup.notFoundPattern, 'i');
    } catch {
      lines.push(
        `cleanup.${kind}.notFoundPattern: expected a regular expression, got ${JSON.stringify(cleanup.notFoundPattern)}`,
      );
    }
  }
  return lines;
}

/** The manager's own port (its control endpoint), never a service's. */
const CONTROL_PORT_NAME = 'control';

/**
 * What `start` would refuse about ports, found before anything starts: a
 * service or fallback naming no port, two services on one port, a service on
 * the control endpoint's port, and one port number given to two names (the
 * named built-in defaults, `control` included, plus `ports`).
 */
function portIssues(config: SystemManagerConfig): string[] {
  const lines: string[] = [];
  const named = namedPorts(config);
  const origin = (name: string) => (name in config.ports ? `ports.${name}` : `the default of "${name}"`);
  const known = () => [...new Set([...Object.keys(BUILTIN_PORTS), ...Object.keys(named)])].join(', ');
  const owners = new Map<string, number>();
  for (const [index, service] of config.services.entries()) {
    if (!(service.port in named)) {
      lines.push(`services.${index}.port: no port named "${service.port}" (known: ${known()})`);
      continue;
    }
    if (service.port === CONTROL_PORT_NAME) {
      lines.push(
        `services.${index}.port: "${CONTROL_PORT_NAME}" is the manager's control endpoint; give the service a port of its own`,
      );
    }
    const first = owners.get(service.port);
    if (first !== undefined) {
      lines.push(
        `services.${index}.port: port "${service.port}" is already the port of services.${first} ("${config.services[first]?.name}")`,
      );
    } else owners.set(service.port, index);
  }
  for (const name of Object.keys(config.fallbacks)) {
    if (!(name in named)) lines.push(`fallbacks.${name}: no port named "${name}" (known: ${known()})`);
  }
  const byNumber = new Map<number, string>();
  for (const [name, port] of Object.entries(named)) {
    const other = byNumber.get(port);
    if (other !== undefined) {
      const field = name in config.ports ? `ports.${name}` : `ports.${other}`;
      lines.push(
        `${field}: port ${port} is given to both "${other}" (${origin(other)}) and "${name}" (${origin(name)}); give each name its own port`,
      );
    } else byNumber.set(port, name);
  }
  return lines;
}

/** A path written in a config file: relative ones are relative to the file's directory. */
function isExplicitRelative(value: string): boolean {
  return value.startsWith('./') || value.startsWith('../') || value === '.' || value === '..';
}

/**
 * Makes a file's relative paths absolute against its directory: `cwd`
 * (default: the directory itself, so relative `args` resolve there too), a
 * `command` with a slash in it, `args` written as `./…` or `../…`, `logs.dir`,
 * and the files of `session.etcd` (TLS, password).
 */
function resolveRelativePaths(config: SystemManagerConfig, baseDir: string): SystemManagerConfig {
  return {
    ...config,
    services: config.services.map((service) => ({
      ...service,
      cwd: path.resolve(baseDir, service.cwd ?? '.'),
      command:
        service.command.includes('/') && !path.isAbsolute(service.command)
          ? path.resolve(baseDir, service.command)
          : service.command,
      args: service.args.map((arg) => (isExplicitRelative(arg) ? path.resolve(baseDir, arg) : arg)),
    })),
    logs:
      config.logs.dir === undefined
        ? config.logs
        : { ...config.logs, dir: path.resolve(baseDir, config.logs.dir) },
    session:
      config.session.etcd === undefined
        ? config.session
        : { ...config.session, etcd: resolveEtcdPaths(config.session.etcd, baseDir) },
  };
}

/**
 * Validates a config object. Errors name the source (file), the path of every
 * bad field and what was expected (all of them, in `details`). A `$schema`
 * key (for editors) is accepted and ignored. With `baseDir` (the config
 * file's directory), relative paths are resolved against it.
 * @throws ConfigError E_CONFIG_INVALID (exit code 78)
 */
export function parseConfig(input: unknown, source = 'config', baseDir?: string): SystemManagerConfig {
  let body = input;
  if (typeof input === 'object' && input !== null && !Array.isArray(input) && '$schema' in input) {
    const { $schema, ...rest } = input as Record<string, unknown>;
    if (typeof $schema !== 'string') {
      throw new ConfigError(
        'E_CONFIG_INVALID',
        `${source} is not a valid system-manager config: $schema: expected a string (the schema URL or path)`,
        { details: ['$schema: expected a string'] },
      );
    }
    body = rest;
  }
  const result = configSchema.safeParse(body);
  const lines = result.success ? crossFieldIssues(result.data) : result.error.issues.map(describeIssue);
  if (!result.success || lines.length > 0) {
    throw new ConfigError(
      'E_CONFIG_INVALID',
      `${source} is not a valid system-manager config: ${lines.join('; ')}`,
      {
        details: lines,
      },
    );
  }
  return baseDir === undefined ? result.data : resolveRelativePaths(result.data, baseDir);
}

/** Options of {@link loadConfig} when it discovers the file itself. */
export interface LoadConfigOptions extends ConfigDiscovery {
  /** Told which config is in force (one info line). */
  readonly log?: { info(obj: object, msg?: string): void } | undefined;
}

/** What a non-regular file is, for the error that refuses it. */
function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/**
 * The file's text, refusing anything but a regular file: opened
 * non-blocking, so a FIFO with no writer is refused at once instead of
 * hanging the read, and checked on the open descriptor (no race with a swap
 * of the path).
 */
function readRegularFile(file: string): string {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      throw new ConfigError('E_CONFIG_READ', `${kindOf(stats)}, not a regular file`);
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

function readConfigFile(file: string): SystemManagerConfig {
  let text: string;
  try {
    text = readRegularFile(file);
  } catch (error) {
    throw new ConfigError('E_CONFIG_READ', `cannot read config file ${file}: ${(error as Error).message}`, {
      cause: error,
      details: [`(file): ${(error as Error).message}`],
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      'E_CONFIG_READ',
      `config file ${file} is not valid JSON: ${(error as Error).message}`,
      {
        cause: error,
        details: [`(file): not valid JSON: ${(error as Error).message}`],
      },
    );
  }
  return parseConfig(json, `config file ${file}`, path.dirname(path.resolve(file)));
}

/**
 * Finds (see {@link discoverConfig}), reads and validates the config, and
 * says which one is in force.
 * @throws ConfigError E_CONFIG_READ / E_CONFIG_INVALID (exit code 78)
 */
export function loadConfigWithSource(options: LoadConfigOptions = {}): {
  config: SystemManagerConfig;
  source: ConfigSource;
} {
  const source = discoverConfig(options);
  const config =
    source.file === null
      ? parseConfig(DEFAULT_CONFIG, 'built-in default config')
      : readConfigFile(source.file);
  options.log?.info({ config: source.file, origin: source.origin }, `config: ${source.description}`);
  return { config, source };
}

/**
 * Reads and validates a JSON config file (relative paths in it resolve
 * against its directory); without a file, the built-in default. Given
 * options instead of a path, it discovers the file: `flag`, else
 * `$SYSTEM_MANAGER_CONFIG`, else /etc/system-manager/config.json (root) or
 * `$XDG_CONFIG_HOME/system-manager/config.json`, else the built-in config.
 * @throws ConfigError E_CONFIG_READ when the file cannot be read or is not JSON, E_CONFIG_INVALID when it breaks the schema (exit code 78 either way).
 */
export function loadConfig(file?: string | LoadConfigOptions): SystemManagerConfig {
  if (typeof file === 'object') return loadConfigWithSource(file).config;
  if (file === undefined) return parseConfig(DEFAULT_CONFIG, 'built-in default config');
  return readConfigFile(file);
}

/**
 * Resolves "{node}" and "{builtin:<name>}" in a service's command line. A
 * builtin runs from TypeScript source when this app does (tests, tsx) and from
 * dist otherwise; in both cases it inherits this process's Node flags.
 */
export function resolveCommand(service: ServiceConfig): { command: string; args: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const args = service.args.map((arg) => {
    const builtin = /^\{builtin:([a-z0-9/_-]+)\}$/i.exec(arg);
    return builtin ? path.join(BUILTIN_DIR, `${builtin[1]}${fromSource ? '.ts' : '.js'}`) : arg;
  });
  if (service.command === '{node}') {
    return {
      command: process.execPath,
      args: [...portableExecArgv(process.execArgv), ...args],
    };
  }
  return { command: service.command, args };
}

const LOADER_FLAGS = new Set(['--import', '--loader', '--experimental-loader', '--require', '-r']);

function resolveSpecifier(specifier: string): string {
  // Bare names ("tsx") resolve against the current directory of the process that reads the flag: pin them here.
  if (specifier.startsWith('.') || specifier.startsWith('/') || /^[a-z]+:/i.test(specifier)) return specifier;
  try {
    return import.meta.resolve(specifier);
  } catch {
    return specifier;
  }
}

/**
 * This process's Node flags as another process can use them from any
 * working directory: `--inspect*` dropped (the port is taken), and a bare
 * loader (`--import tsx`) resolved to its file URL, since Node resolves it
 * against the child's cwd (a service's, or the unit's WorkingDirectory=).
 */
export function portableExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] as string;
    if (arg.startsWith('--inspect')) continue;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (LOADER_FLAGS.has(flag) && eq > 0) out.push(`${flag}=${resolveSpecifier(arg.slice(eq + 1))}`);
    else if (LOADER_FLAGS.has(arg) && i + 1 < execArgv.length) {
      out.push(arg, resolveSpecifier(execArgv[i + 1] as string));
      i++;
    } else out.push(arg);
  }
  return out;
}
