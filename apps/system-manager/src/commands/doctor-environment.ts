// The checks of `system-manager doctor` about the world outside the registry:
// the Redis or etcd store, the configured ports, the commands the config runs, PID 1.
import { accessSync, constants, readdirSync, readlinkSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { SystemManagerConfig } from '../config.js';
import {
  findReaper,
  type InitState,
  inspectInit,
  NO_REAPER_FIX,
  NO_REAPER_MESSAGE,
} from '../init-process.js';
import { bad, type CheckResult, ok, safeRead } from './doctor-checks.js';
import { sessionPorts } from './session-ports.js';
import type { SessionListing } from './sessions-source.js';

/**
 * The fleet store, when configured: Redis reachable and with an eviction
 * policy that cannot drop sessions; etcd (see ./doctor-etcd.ts) reachable
 * and healthy.
 */
export async function checkStore(
  config: SystemManagerConfig | null,
  env: NodeJS.ProcessEnv,
): Promise<CheckResult> {
  const etcdEnv = env['CORE_SESSION_ETCD_ENDPOINTS'];
  if ((etcdEnv !== undefined && etcdEnv.trim() !== '') || config?.session.etcd !== undefined) {
    const { checkEtcdStore } = await import('./doctor-etcd.js');
    return checkEtcdStore(config, env);
  }
  const fromEnv = env['CORE_SESSION_REDIS_URL'];
  const url = fromEnv !== undefined && fromEnv !== '' ? fromEnv : config?.session.redisUrl;
  if (url === undefined)
    return ok('session store', 'file registry of this machine (no Redis URL or etcd endpoints configured)');
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  redis.on('error', () => {}); // reported below, once
  const where = url.replace(/\/\/[^@/]*@/, '//***@');
  try {
    await redis.connect();
    await redis.ping();
    let policy: string | null = null;
    try {
      const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
      policy = reply[1] ?? null;
    } catch {
      return bad(
        'session store',
        'warn',
        `Redis ${where} answers, but CONFIG GET is not allowed, so its eviction policy is unknown`,
        'make sure maxmemory-policy is noeviction (or a volatile-* policy): an evicted session loses what it owns',
      );
    }
    if (policy?.startsWith('allkeys-'))
      return bad(
        'session store',
        'fail',
        `Redis ${where} evicts any key under memory pressure (maxmemory-policy ${policy}): sessions could vanish`,
        `redis-cli CONFIG SET maxmemory-policy noeviction (and in redis.conf)`,
      );
    return ok('session store', `Redis ${where} reachable, maxmemory-policy ${policy ?? 'unknown'}`);
  } catch (error) {
    return bad(
      'session store',
      'fail',
      `Redis ${where} is not reachable: ${(error as Error).message}`,
      'start Redis or fix CORE_SESSION_REDIS_URL / session.redisUrl',
    );
  } finally {
    redis.disconnect();
  }
}

/**
 * With a Redis registry: whether its entries are signed. Without a fleet key
 * anyone who can write to the store can plant a record that directs a
 * cleanup command at any VM id. Null for the file registry (its private
 * directory is the protection).
 */
export async function checkFleetKey(
  config: SystemManagerConfig | null,
  env: NodeJS.ProcessEnv,
): Promise<CheckResult | null> {
  const fromEnv = env['CORE_SESSION_REDIS_URL'];
  if ((fromEnv === undefined || fromEnv === '') && config?.session.redisUrl === undefined) return null;
  const { parseConfig } = await import('../config.js');
  const { FLEET_KEY_FILE_ENV, fleetKeySource, loadFleetKey } = await import('../fleet-key.js');
  const effective = config ?? parseConfig({});
  try {
    if (loadFleetKey(effective, env) !== undefined)
      return ok(
        'fleet key',
        `registry entries signed (HMAC-SHA256) with the key from ${fleetKeySource(effective, env)?.from}; unsigned ones are refused`,
      );
  } catch (error) {
    return bad('fleet key', 'fail', (error as Error).message, 'fix the file, or unset it to run unsigned');
  }
  return bad(
    'fleet key',
    'warn',
    'the Redis registry is not signed: anyone who can write to it can plant a session record and direct cleanups (VM deletes) at any id',
    `put 32 random bytes in a file (head -c 32 /dev/urandom > key; chmod 600 key), the same on every host, and name it in session.fleetKeyFile or ${FLEET_KEY_FILE_ENV} (or LoadCredential=fleet-key:<file> in the unit)`,
  );
}

/** Which process (pid and command) listens on a TCP port, from /proc/net/tcp{,6} and /proc/<pid>/fd. */
export function listenerOf(port: number): { pid: number; command: string } | null {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of safeRead(table).split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN.
      if (f[3] === '0A' && Number.parseInt(f[1]?.split(':')[1] ?? '', 16) === port && f[9]) inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return null;
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return null;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodes.has(inode))
        return {
          pid: Number(pid),
          command: safeRead(`/proc/${pid}/cmdline`).split('\0').filter(Boolean).join(' '),
        };
    }
  }
  return null;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Each configured port: free, in use by a live session (fine), or held by something else (the start falls back). */
export async function checkPorts(
  ports: Readonly<Record<string, number>>,
  listings: readonly SessionListing[],
): Promise<CheckResult[]> {
  const owners = new Map<number, string>();
  for (const l of listings)
    if (l.liveness === 'live' && l.thisHost)
      for (const [name, port] of Object.entries(sessionPorts(l.record)))
        owners.set(port, `${name} of session ${l.record.sessionId} (pid ${l.record.pid})`);
  const results: CheckResult[] = [];
  for (const [name, port] of Object.entries(ports)) {
    const check = `port ${name}`;
    if (await portFree(port)) {
      results.push(ok(check, `${port} is free`));
      continue;
    }
    const owner = owners.get(port);
    if (owner !== undefined) {
      results.push(ok(check, `${port} is in use by ${owner}`));
      continue;
    }
    const listener = listenerOf(port);
    results.push(
      bad(
        check,
        'warn',
        `${port} is held by ${listener ? `pid ${listener.pid} (${listener.command.slice(0, 120)})` : 'another process'}, not by a manager: a start falls back to another port`,
        `stop that process, or move ${name} with SYSTEM_MANAGER_PORT_${name.toUpperCase()}=<port> or "ports" in the config`,
      ),
    );
  }
  return results;
}

function onPath(command: string, env: NodeJS.ProcessEnv, cwd: string): string | null {
  const executable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  };
  if (command.includes('/')) {
    const file = path.resolve(cwd, command);
    return executable(file) ? file : null;
  }
  for (const dir of (env['PATH'] ?? '').split(':')) {
    if (dir === '' || !path.isAbsolute(dir)) continue;
    const file = path.join(dir, command);
    if (executable(file)) return file;
  }
  return null;
}

/** Every command the config runs (services, cleanup) is found on PATH. */
export function checkCommands(config: SystemManagerConfig, env: NodeJS.ProcessEnv): CheckResult[] {
  const commands: [string, string, string][] = [];
  for (const s of config.services)
    if (s.command !== '{node}') commands.push([`service ${s.name}`, s.command, s.cwd ?? process.cwd()]);
  for (const [kind, c] of Object.entries(config.cleanup))
    commands.push([`cleanup ${kind}`, c.command[0] as string, process.cwd()]);
  return commands.map(([what, command, cwd]) => {
    const found = onPath(command, env, cwd);
    return found
      ? ok(`command of ${what}`, `${command} → ${found}`)
      : bad(
          `command of ${what}`,
          'fail',
          `${command} is not found on PATH (${env['PATH'] ?? ''})`,
          `install it, or give its absolute path in the config; under systemd, PATH is the unit's Environment=PATH=`,
        );
  });
}

/**
 * PID 1 of this pid namespace reaps orphaned processes: a manager that is PID 1
 * (a container's entrypoint) runs under tini, found on PATH (see init-process.ts).
 */
export function checkInit(env: NodeJS.ProcessEnv, init: InitState = inspectInit()): CheckResult {
  const name = 'init (PID 1)';
  switch (init.kind) {
    case 'self': {
      // `docker run <image> system-manager doctor`: a `start` in its place would be PID 1 too.
      const reaper = findReaper(env);
      return reaper === null
        ? bad(name, 'warn', `doctor is PID 1, and so would be a start: ${NO_REAPER_MESSAGE}`, NO_REAPER_FIX)
        : ok(
            name,
            `doctor is PID 1; a start as PID 1 runs under ${reaper} -s, which reaps orphaned processes`,
          );
    }
    case 'manager':
      return init.reaper !== null
        ? ok(
            name,
            `the manager is PID 1; ${init.reaper.command} (pid ${init.reaper.pid}) reaps orphaned processes`,
          )
        : bad(
            name,
            'fail',
            `the manager is PID 1 without a reaper: orphaned processes become zombies (${init.zombies} now)`,
            NO_REAPER_FIX,
          );
    case 'other':
      return ok(name, `${init.command}: reaping orphaned processes is its job`);
    case 'unknown':
      return ok(name, 'not inspected: /proc/1 cannot be read');
  }
}

/**
 * With the `file` destination: whether the services' log files are written
 * by s6-log processes of their own, or by the manager itself (s6-log not on
 * PATH: every byte of every service passes through the manager).
 */
export async function checkLogWriter(
  config: SystemManagerConfig | null,
  env: NodeJS.ProcessEnv,
): Promise<CheckResult> {
  const { LOG_WRITER_INSTALL_HINT, findLogWriter, logDirectory } = await import(
    '../supervisor/log-destination.js'
  );
  const logs = config?.logs;
  const destination = logs?.destination ?? 'auto';
  if (destination === 'manager' || destination === 'journald')
    return ok('log writer', `logs.destination "${destination}": no log files to write`);
  const writer = findLogWriter(env);
  const where = logs ? logDirectory(logs, env) : 'the state directory';
  if (writer !== null)
    return ok('log writer', `${writer.path} writes each service's stdout and stderr into ${where}`);
  return bad(
    'log writer',
    'warn',
    `s6-log is not on PATH: the manager writes the log files in ${where} itself, and every byte services print passes through it`,
    LOG_WRITER_INSTALL_HINT,
  );
}
