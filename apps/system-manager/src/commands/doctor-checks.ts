// The checks of `system-manager doctor` about the session registry, lock, clock and config. Each says what it found and, when
// something is wrong, what to do about it. None changes anything.
import { lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import type { SystemManagerConfig } from '../config.js';
import { discoverConfig } from '../config-discovery.js';
import { defaultSessionDir, listSessions, type SessionListing } from './sessions-source.js';

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

/** A passed check. */
export const ok = (check: string, message: string): CheckResult => ({ check, status: 'ok', message });
/** A check that found something wrong, with what to do. */
export const bad = (check: string, status: 'warn' | 'fail', message: string, fix: string): CheckResult => ({
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
  // The verdicts are the listing's, which `sessions cleanup` acts on: only `dead` is advised for cleanup.
  const dead = listings.filter((l) => l.liveness === 'dead').length;
  const unknown = listings.filter((l) => l.liveness === 'unknown').length;
  const interrupted = interruptedReaping(listings);
  if (interrupted !== null) return { listings, result: interrupted };
  const unverifiable =
    unknown > 0
      ? `, ${unknown} on other hosts (cannot be verified here: left to their own host or the age limit)`
      : '';
  return {
    listings,
    result:
      dead > 0
        ? bad(
            'registry',
            'warn',
            `${listings.length} session(s), ${dead} of them dead${unverifiable}`,
            `run 'system-manager sessions cleanup' to stop their orphans and clean up`,
          )
        : ok(
            'registry',
            unknown > 0
              ? `${listings.length} session(s), none dead${unverifiable}`
              : `${listings.length} session(s), all live`,
          ),
  };
}

/**
 * Session v2 marks a dead session's record while a reaper cleans it up
 * (`reaping.by`). A reaper that is itself dead left work half done; one that
 * is stopped (SIGSTOP) holds it up.
 */
function interruptedReaping(listings: readonly SessionListing[]): CheckResult | null {
  const byId = new Map(listings.map((l) => [l.record.sessionId, l]));
  for (const l of listings) {
    const mark = (l as { reaping?: { by: string } | undefined }).reaping;
    if (!mark) continue;
    const reaper = byId.get(mark.by);
    if (!reaper || reaper.liveness === 'dead')
      return bad(
        'registry',
        'warn',
        `the cleanup of session ${l.record.sessionId} was interrupted (its reaper ${mark.by} is gone)`,
        "run 'system-manager sessions cleanup': it takes the cleanup over where it stopped",
      );
    const state = /\) (\S)/.exec(safeRead(`/proc/${reaper.record.pid}/stat`))?.[1];
    if (reaper.thisHost && (state === 'T' || state === 't'))
      return bad(
        'registry',
        'fail',
        `session ${l.record.sessionId} is being cleaned up by pid ${reaper.record.pid}, which is stopped`,
        `resume it (kill -CONT ${reaper.record.pid}) or end it so another cleanup can take over`,
      );
  }
  return null;
}

/**
 * The v1 registry lock. Registry v2 takes no shared lock (each session writes
 * its own record; reapers are checked by {@link checkRegistry}), so the file
 * exists only while a manager of an older version runs on the same directory:
 * free, held by a live process, or left by a dead one.
 */
export function checkLock(dir = defaultSessionDir()): CheckResult {
  const file = path.join(dir, 'registry.json.lock');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return ok('registry lock', 'none (registry v2 takes no shared lock)');
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
        `resume it (kill -CONT ${pid}) or end it; managers of the older version (v1 registry) wait for this lock`,
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

/** A file's text, or '' when it cannot be read. */
export function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
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
