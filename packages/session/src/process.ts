import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

function assertPid(pid: number, caller: string): void {
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new TypeError(`${caller}: "pid" must be a positive integer, got ${JSON.stringify(pid)}`);
  }
}

interface ProcStat {
  readonly state: string;
  readonly startTime: string;
}

function readProcStat(pid: number): ProcStat | null | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOENT/ESRCH: no such process. Anything else: /proc not usable, fall back.
    return code === 'ENOENT' || code === 'ESRCH' ? null : undefined;
  }
  // Field 2 is "(comm)" and comm may contain spaces and ')': fields resume after the LAST ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); field 22 (starttime, clock ticks since boot) is rest[19].
  const state = rest[0];
  const startTime = rest[19];
  if (state === undefined || startTime === undefined || !/^\d+$/.test(startTime)) return undefined;
  return { state, startTime };
}

/**
 * The start time of a process, as an opaque string that differs when a pid is
 * reused by another process. Linux: field 22 of `/proc/<pid>/stat` (clock
 * ticks since boot); elsewhere `ps -o lstart= -p <pid>`.
 *
 * @returns the start time, or `null` when the process does not exist (a
 *   zombie counts as gone) or its start time cannot be read on this platform.
 * @throws TypeError when `pid` is not a positive integer.
 */
export function readProcessStartTime(pid: number): string | null {
  assertPid(pid, 'readProcessStartTime');
  if (process.platform === 'linux') {
    const stat = readProcStat(pid);
    if (stat === null) return null;
    if (stat !== undefined) return stat.state === 'Z' || stat.state === 'X' ? null : stat.startTime;
  }
  if (process.platform === 'win32') return null;
  try {
    const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, LC_ALL: 'C' },
    }).trim();
    return out === '' ? null : out.replace(/\s+/g, ' ');
  } catch {
    return null;
  }
}

/**
 * Whether a process is running, with `kill(pid, 0)` semantics: `ESRCH` means
 * gone, `EPERM` means alive (someone else's). On Linux a zombie counts as
 * gone. With `expectedStartTime`, a process whose start time differs is
 * another process that reused the pid, so the answer is `false`.
 *
 * @throws TypeError when `pid` is not a positive integer.
 */
export function isProcessAlive(pid: number, expectedStartTime?: string | null): boolean {
  assertPid(pid, 'isProcessAlive');
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (process.platform === 'linux') {
    const stat = readProcStat(pid);
    if (stat === null) return false;
    if (stat !== undefined && (stat.state === 'Z' || stat.state === 'X')) return false;
  }
  if (expectedStartTime === undefined || expectedStartTime === null) return true;
  return readProcessStartTime(pid) === expectedStartTime;
}

let bootIdCache: string | undefined;

/** Linux boot id (a start time in clock ticks repeats after a reboot; the boot id does not). */
export function readBootId(): string {
  if (bootIdCache === undefined) {
    try {
      bootIdCache = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootIdCache = '';
    }
  }
  return bootIdCache;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread for `ms` milliseconds (for sync retry loops that run inside `process.on('exit')`). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/**
 * The environment variable that names the session owning a process: every
 * process a session starts carries it, so a reaper can check, on the process
 * itself, that a recorded pid really is the dead session's before it signals
 * it (a pid and start time can be copied from a live record into a planted one).
 */
export const SESSION_ID_ENV = 'CORE_SESSION_ID';

/** What {@link readProcessSessionId} found. */
export type ProcessSessionId =
  | { readonly kind: 'found'; readonly sessionId: string }
  | { readonly kind: 'absent' }
  | { readonly kind: 'gone' }
  /** `/proc/<pid>/environ` cannot be read: another user's process (and we are not root), or no /proc. */
  | { readonly kind: 'unreadable'; readonly reason: string };

/**
 * Reads {@link SESSION_ID_ENV} from a process's environment as the kernel
 * holds it (`/proc/<pid>/environ`: the environment it was started with;
 * readable for the same user, or root).
 */
export function readProcessSessionId(pid: number): ProcessSessionId {
  assertPid(pid, 'readProcessSessionId');
  let environ: Buffer;
  try {
    environ = readFileSync(`/proc/${pid}/environ`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return { kind: 'gone' };
    return { kind: 'unreadable', reason: `/proc/${pid}/environ: ${code ?? (error as Error).message}` };
  }
  const prefix = `${SESSION_ID_ENV}=`;
  // NUL-separated NAME=value entries; the first one of the name is what getenv() would see.
  for (const entry of environ.toString('utf8').split('\0'))
    if (entry.startsWith(prefix)) return { kind: 'found', sessionId: entry.slice(prefix.length) };
  return { kind: 'absent' };
}
