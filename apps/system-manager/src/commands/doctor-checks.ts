// The checks of `system-manager doctor`. Each says what it found and, when
// something is wrong, what to do about it. None changes anything.
import { accessSync, constants, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { SystemManagerConfig } from '../config.js';
import { discoverConfig } from '../config-discovery.js';
import { defaultSessionDir, listSessions, type SessionListing } from './sessions-source.js';
import { sessionPorts } from './status.js';

/** Outcome of one check: `fail` makes doctor exit 1; `warn` is worth reading but not broken. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One finding. */
export interface CheckResult {
  readonly check: string;
  readonly status: CheckStatus;
  readonly message: string;
  /** What to do (absent when all is well). */
  readonly fix?: string;
}

const ok = (check: string, message: string): CheckResult => ({ check, status: 'ok', message });
const bad = (check: string, status: 'warn' | 'fail', message: string, fix: string): CheckResult => ({
  check,
  status,
  message,
  fix,
});

/** Session directory: exists (or can be created), a real directory, ours, 0700. */
export function checkSessionDir(dir = defaultSessionDir()): CheckResult {
  const name = 'session directory';
  let stats: ReturnType<typeof lstatSync>;
  try {
    stats = lstatSync(dir);
  } catch {
    return ok(name, `${dir} does not exist yet; the first start creates it (mode 0700)`);
  }
  if (stats.isSymbolicLink())
    return bad(
      name,
      'fail',
      `${dir} is a symbolic link (to ${readlinkSync(dir)}): never followed`,
      `remove the link (rm ${dir}) or set CORE_SESSION_DIR to a private directory`,
    );
  if (!stats.isDirectory())
    return bad(name, 'fail', `${dir} is not a directory`, `move it away, or set CORE_SESSION_DIR elsewhere`);
  const uid = typeof process.getuid === 'function' ? process.getuid() : stats.uid;
  if (stats.uid !== uid)
    return bad(
      name,
      'fail',
      `${dir} is owned by uid ${stats.uid}, not by you (uid ${uid})`,
      `chown ${uid} ${dir} if it is yours, else set CORE_SESSION_DIR to a directory of your own`,
    );
  const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
  if ((stats.mode & 0o022) !== 0)
    return bad(name, 'fail', `${dir} has mode ${mode}: other users can write into it`, `chmod 0700 ${dir}`);
  if ((stats.mode & 0o077) !== 0)
    return bad(
      name,
      'warn',
      `${dir} has mode ${mode}: other users can read your sessions`,
      `chmod 0700 ${dir}`,
    );
  return ok(name, `${dir} (mode ${mode}, yours)`);
}

/** Registry readable: every record parses. */
export async function checkRegistry(
  dir = defaultSessionDir(),
): Promise<{ result: CheckResult; listings: SessionListing[] }> {
  const warnings: string[] = [];
  const listings = await listSessions({ dir, warn: (w) => warnings.push(w) });
  if (warnings.length > 0)
    return {
      listings,
      result: bad(
        'registry',
        'fail',
        warnings.join('; '),
        `inspect the file; 'system-manager sessions cleanup' moves a corrupt registry aside (kept) and starts a new one`,
      ),
    };
  const live = listings.filter((l) => l.liveness === 'live').length;
  const dead = listings.length - live;
  return {
    listings,
    result:
      dead > 0
        ? bad(
            'registry',
            'warn',
            `${listings.length} session(s), ${dead} of them dead`,
            `run 'system-manager sessions cleanup' to stop their orphans and clean up`,
          )
        : ok('registry', `${listings.length} session(s), all live`),
  };
}

/** The registry lock: free, held by a live process, or left by a dead one (broken automatically at the next write). */
export function checkLock(dir = defaultSessionDir()): CheckResult {
  const file = path.join(dir, 'registry.json.lock');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return ok('registry lock', 'free');
  }
  let owner: { pid?: unknown; hostname?: unknown; acquiredAt?: unknown };
  try {
    owner = JSON.parse(text) as typeof owner;
  } catch {
    return bad(
      'registry lock',
      'warn',
      `${file} is unreadable`,
      'it is broken automatically after 30 s; if it stays, remove it while no manager runs',
    );
  }
  const pid = typeof owner.pid === 'number' ? owner.pid : null;
  const since =
    typeof owner.acquiredAt === 'number'
      ? `${Math.round((Date.now() - owner.acquiredAt) / 1000)} s`
      : 'unknown time';
  let alive = false;
  if (pid !== null) {
    try {
      process.kill(pid, 0);
      alive = true;
    } catch (error) {
      alive = (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  if (alive) {
    const state = pid === null ? '' : (/\) (\S)/.exec(safeRead(`/proc/${pid}/stat`))?.[1] ?? '');
    if (state === 'T' || state === 't')
      return bad(
        'registry lock',
        'fail',
        `held for ${since} by pid ${pid}, which is stopped (SIGSTOP/suspended)`,
        `resume it (kill -CONT ${pid}) or end it; every other manager waits for this lock`,
      );
    return ok('registry lock', `held by live pid ${pid} for ${since}`);
  }
  return bad(
    'registry lock',
    'warn',
    `left by pid ${pid ?? '?'}, which is gone`,
    "nothing to do: the next write breaks a dead holder's lock",
  );
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The Redis store, when configured: reachable, and with an eviction policy that cannot drop sessions. */
export async function checkStore(
  config: SystemManagerConfig | null,
  env: NodeJS.ProcessEnv,
): Promise<CheckResult> {
  const fromEnv = env['CORE_SESSION_REDIS_URL'];
  const url = fromEnv !== undefined && fromEnv !== '' ? fromEnv : config?.session.redisUrl;
  if (url === undefined)
    return ok('session store', 'file registry of this machine (no Redis URL configured)');
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

/** The wall clock: not before this package was built, and no session created in the future (a clock that went back). */
export function checkClock(
  listings: readonly SessionListing[],
  now = Date.now(),
  builtAt = packageTime(),
): CheckResult {
  if (builtAt !== null && now < builtAt - 86_400_000)
    return bad(
      'clock',
      'fail',
      `the clock says ${new Date(now).toISOString()}, before this install was made (${new Date(builtAt).toISOString()})`,
      'set the time (timedatectl set-ntp true); session ages and leases are computed from it',
    );
  const future = listings.filter((l) => l.record.createdAt > now + 60_000);
  if (future.length > 0)
    return bad(
      'clock',
      'warn',
      `${future.length} session(s) were created after "now" (${new Date(now).toISOString()}): the clock went back`,
      'check NTP (timedatectl); until the clock catches up, those sessions look younger than they are',
    );
  return ok('clock', new Date(now).toISOString());
}

function packageTime(): number | null {
  try {
    return statSync(new URL('../../package.json', import.meta.url)).mtimeMs;
  } catch {
    return null;
  }
}

/** The config file in force (discovery and validation). */
export async function checkConfig(
  flag: string | undefined,
): Promise<{ result: CheckResult; config: SystemManagerConfig | null }> {
  const source = discoverConfig({ flag });
  try {
    const { loadConfigWithSource } = await import('../config.js');
    const { config } = loadConfigWithSource({ flag });
    return { config, result: ok('config', source.description) };
  } catch (error) {
    const details = (error as { details?: readonly string[] }).details ?? [];
    return {
      config: null,
      result: bad(
        'config',
        'fail',
        `${(error as Error).message}${details.length > 0 ? ` (${details.join('; ')})` : ''}`,
        `fix it and check with 'system-manager config check${flag ? ` --config ${flag}` : ''}'`,
      ),
    };
  }
}
