// PID-1 duties. As a container's entrypoint (or under `unshare --pid --fork`)
// the manager is PID 1 of its pid namespace: every process orphaned in the
// namespace (a service's grandchild whose parent exited) is re-parented to it,
// and stays a zombie until PID 1 waits for it. Node cannot do that: libuv only
// waits for the pids it spawned itself, and Node has neither waitpid(-1) nor
// prctl(). Node cannot exec() either, so the manager's first process cannot
// turn into a reaper.
//
// What it can do is start tini (Debian's `tini` package, the same program
// `docker run --init` runs) with `-s`: tini then registers as a child
// subreaper, so every process orphaned below it — the manager, its services and
// all they start — is re-parented to tini instead of to PID 1, and tini reaps
// it. The first process stays PID 1 as a thin parent: its only child is tini
// (which libuv does wait for), it forwards the signals it gets to tini (tini
// forwards them to the manager), and it exits with tini's status. tini over a
// helper of our own: it is small, packaged by every distribution, and already
// solves what such a helper would get wrong (signal forwarding, the terminal's
// foreground group, exit statuses); ours would need a compiler or a prebuilt
// binary per architecture in every image.
//
// The manager started under tini is not PID 1, so it never starts another tini:
// no marker in the environment is needed (one would leak into every service).
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from './logger.js';

/** The reapers looked for on PATH, in order (Debian's package installs both). */
export const REAPERS = ['tini', 'tini-static'] as const;

/**
 * The signals PID 1 passes on. A namespace's PID 1 gets only the signals it
 * has a handler for (SIGKILL and SIGSTOP from outside aside): without these
 * handlers a `docker stop` would be dropped, not forwarded.
 */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGTERM',
  'SIGINT',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
];

/** What the start log and `doctor` say when the manager is PID 1 and no reaper is found. */
export const NO_REAPER_MESSAGE = 'running as PID 1 without a reaper: orphaned processes will become zombies';
/** And how to fix it. */
export const NO_REAPER_FIX =
  'run the container with `docker run --init` (or `init: true` in compose), or install tini (apt-get install tini) so the manager runs under it';

/** The first reaper found on `env.PATH` (an executable file), or null. */
export function findReaper(env: NodeJS.ProcessEnv = process.env): string | null {
  for (const name of REAPERS) {
    for (const dir of (env['PATH'] ?? '').split(':')) {
      // A relative PATH entry would depend on the directory the container starts in.
      if (dir === '' || !path.isAbsolute(dir)) continue;
      const file = path.join(dir, name);
      try {
        accessSync(file, constants.X_OK);
        if (statSync(file).isFile()) return file;
      } catch {
        // Not here.
      }
    }
  }
  return null;
}

/** An exit status as a shell reports it: the code, or 128 + the number of the signal that ended the process. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal === null ? undefined : os.constants.signals[signal];
  return number === undefined ? 1 : 128 + number;
}

/**
 * `start` as PID 1: runs this same command line again under `reaper -s` and
 * resolves with its exit status once it ends. Resolves undefined when there is
 * no reaper (said in the log, with the fix) or it could not be started: the
 * caller then runs the manager in this process, orphans unreaped.
 */
export async function runAsInit(
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number | undefined> {
  const reaper = findReaper(env);
  if (reaper === null) {
    log.warn({ fix: NO_REAPER_FIX }, `${NO_REAPER_MESSAGE}; ${NO_REAPER_FIX}`);
    return undefined;
  }
  // -s: subreaper, as tini is not PID 1 here. No -g: the manager stops its services itself (each
  // leads its own process group); a signal to the manager's group would also hit the helpers it
  // runs meanwhile, such as a cleanup command in the middle of a stop.
  const argv = ['-s', '--', process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  let child: ChildProcess | undefined;
  // Installed before the spawn: a signal is delivered to a handler only once this function has
  // returned to the event loop, so `child` is set by then.
  const forward = (signal: NodeJS.Signals) => {
    child?.kill(signal);
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  const stopForwarding = () => {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
  };
  child = spawn(reaper, argv, { stdio: 'inherit', env });
  if (child.pid === undefined) {
    const error = await new Promise<Error>((resolve) => child?.once('error', resolve));
    stopForwarding();
    log.warn(
      { reaper, err: error.message, fix: NO_REAPER_FIX },
      `${reaper} could not be started: ${NO_REAPER_MESSAGE}`,
    );
    return undefined;
  }
  log.info(
    { reaper, reaperPid: child.pid },
    `running as PID 1: the manager runs under ${reaper} -s, which reaps orphaned processes; signals are forwarded to it`,
  );
  const running = child;
  // A signal that cannot be passed on must not end PID 1 (and with it the whole namespace).
  running.on('error', (error) => log.warn({ err: error.message }, `signalling ${reaper} failed`));
  return await new Promise<number>((resolve) => {
    running.once('exit', (code, signal) => {
      stopForwarding();
      resolve(exitStatus(code, signal));
    });
  });
}

/** What PID 1 of this pid namespace is, as far as reaping goes (read from /proc). */
export type InitState =
  /** This process is PID 1. */
  | { readonly kind: 'self' }
  /** A manager's `start` is PID 1; `reaper` is its tini child, if it has one; `zombies` are PID 1's unreaped children. */
  | {
      readonly kind: 'manager';
      readonly reaper: { readonly pid: number; readonly command: string } | null;
      readonly zombies: number;
    }
  /** Something else is PID 1 (an init, `docker-init`, a shell): reaping is its job. */
  | { readonly kind: 'other'; readonly command: string }
  /** /proc/1 cannot be read (not Linux, or /proc mounted with hidepid). */
  | { readonly kind: 'unknown' };

function read(file: string): string | null {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return null;
  }
}

/** Whether `arg` names the manager's CLI: this very script, or an installed `system-manager`. */
function isManagerCli(arg: string, cli: string | undefined): boolean {
  const real = (file: string) => {
    try {
      return realpathSync(file);
    } catch {
      return path.resolve(file);
    }
  };
  if (cli !== undefined && path.isAbsolute(arg) && real(arg) === real(cli)) return true;
  return path.basename(arg) === 'system-manager' || /system-manager\/dist\/cli\.js$/.test(arg);
}

/** PID 1 of the namespace `proc` shows, seen from process `self` running the CLI script `cli`. */
export function inspectInit(proc = '/proc', self = process.pid, cli = process.argv[1]): InitState {
  if (self === 1) return { kind: 'self' };
  const cmdline = read(path.join(proc, '1', 'cmdline'));
  if (cmdline === null) return { kind: 'unknown' };
  const args = cmdline.split('\0').filter(Boolean);
  const command = args.join(' ').slice(0, 120);
  // Node running the CLI's `start`; not an init that runs the manager (`docker-init -- system-manager start`).
  const comm = read(path.join(proc, '1', 'comm'))?.trim() ?? '';
  const script = args.findIndex((arg) => isManagerCli(arg, cli));
  if (!comm.startsWith('node') || script < 0 || !args.slice(script + 1).includes('start'))
    return { kind: 'other', command };
  let reaper: { pid: number; command: string } | null = null;
  let zombies = 0;
  let entries: string[] = [];
  try {
    entries = readdirSync(proc).filter((entry) => /^\d+$/.test(entry));
  } catch {
    // Nothing more to learn.
  }
  for (const entry of entries) {
    const stat = read(path.join(proc, entry, 'stat'));
    if (stat === null) continue;
    // Field 2 is "(comm)", and comm may contain spaces and ')': the fields resume after the last ')'.
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (ppid !== '1') continue;
    if (state === 'Z') zombies++;
    else if ((REAPERS as readonly string[]).includes(comm)) reaper = { pid: Number(entry), command: comm };
  }
  return { kind: 'manager', reaper, zombies };
}
