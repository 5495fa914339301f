// Started through a package script (`pnpm start`, `npm start`, `npx …`), the
// manager is a child of the package manager, which forwards SIGINT/SIGTERM to
// it. If that launcher dies without forwarding — SIGKILLed, or `npx` sent
// SIGTERM (it forwards to its `sh -c`, which dies of it, and exits) — nothing
// tells the manager: it is re-parented and runs on with its services, owned by
// no terminal. So `start` records the processes that launched it and stops, as
// on SIGTERM, once one of them is gone. Linux only (/proc); not under systemd
// or when run directly, where no package manager sits in between.
import { readFileSync } from 'node:fs';

/** One process of the chain that launched the manager. */
export interface LauncherProcess {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat: a recycled pid has another one, so it is never mistaken for the launcher. */
  readonly startTime: string;
  /** Its command line as recorded at start (for the log line that says who went away). */
  readonly command: string;
}

interface ProcStat {
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  readonly startTime: string;
}

/**
 * Reads /proc/<pid>/stat; null when the process does not exist or the file
 * cannot be parsed. Throws when this process is out of descriptors or memory
 * (EMFILE, ENFILE, EAGAIN, ENOMEM): that says nothing about the process read.
 */
export type ReadStat = (pid: number) => ProcStat | null;

const OUT_OF_RESOURCES = new Set(['EMFILE', 'ENFILE', 'EAGAIN', 'ENOMEM']);

/** Whether a failed read is about this process's own limits, not about the process it read. */
export function isOutOfResources(error: unknown): boolean {
  return OUT_OF_RESOURCES.has((error as NodeJS.ErrnoException | null)?.code ?? '');
}

/** How far up the chain is walked at most (npx → sh → pnpm → sh → node is five). */
const MAX_CHAIN = 16;
export const LAUNCHER_POLL_MS = 1_000;

export function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (error) {
    // At the descriptor limit the read fails for every pid: "gone" would stop the manager for nothing.
    if (isOutOfResources(error)) throw error;
    return null;
  }
  // Field 2 is "(comm)", and comm may contain spaces and ')': fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, ppid, pgrp] = [rest[0], Number(rest[1]), Number(rest[2])];
  const startTime = rest[19];
  if (state === undefined || startTime === undefined || !Number.isInteger(ppid) || !Number.isInteger(pgrp))
    return null;
  return { state, ppid, pgrp, startTime };
}

function readCommand(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .replace(/\0+$/, '')
      .replaceAll('\0', ' ')
      .slice(0, 200);
  } catch {
    return '';
  }
}

/** Whether `env` says the process was started through a package script (pnpm, npm, npx and yarn set it). */
export function startedByPackageScript(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env['npm_lifecycle_event']);
}

/**
 * Whether the parent `ppid` is the package manager that ran our script (so it
 * forwards the SIGINT/SIGTERM it gets to us): we were started through a
 * package script and the parent's own environment lacks the script the
 * package manager set for us — a process that carries it is the script's
 * shell or a descendant of it (a test runner, say), which forwards nothing.
 */
export function parentIsPackageManager(
  env: NodeJS.ProcessEnv,
  ppid: number = process.ppid,
  readEnviron: (pid: number) => string | null = readEnvironOf,
): boolean {
  if (!startedByPackageScript(env) || ppid <= 1) return false;
  const environ = readEnviron(ppid);
  if (environ === null) return false;
  const script = env['npm_lifecycle_script'];
  const mark =
    script === undefined
      ? `npm_lifecycle_event=${env['npm_lifecycle_event']}`
      : `npm_lifecycle_script=${script}`;
  return !environ.split('\0').includes(mark);
}

function readEnvironOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return null;
  }
}

/**
 * The processes that launched `self`: its parent (the package manager, or the
 * script's `sh -c`), then every further ancestor in the same process group,
 * never pid 1. The process group is the job a shell started for the command
 * line (`npx pnpm start`: npm, its `sh -c`, pnpm, the script's shell, us), the
 * unit a terminal's Ctrl-C reaches; the interactive shell, tmux or sshd above
 * it lead other groups and may come and go (nohup, setsid) without it.
 */
export function launcherChain(
  self: number = process.pid,
  readStat: ReadStat = readProcStat,
  readCmd: (pid: number) => string = readCommand,
): LauncherProcess[] {
  const own = readStat(self);
  if (own === null) return [];
  const chain: LauncherProcess[] = [];
  let pid = own.ppid;
  while (pid > 1 && chain.length < MAX_CHAIN) {
    const stat = readStat(pid);
    if (stat === null || stat.state === 'Z' || stat.state === 'X') break;
    if (chain.length > 0 && stat.pgrp !== own.pgrp) break;
    chain.push({ pid, startTime: stat.startTime, command: readCmd(pid) });
    pid = stat.ppid;
  }
  return chain;
}

/** The first process of `chain` that is gone (exited, a zombie, or its pid now another process), or null. */
export function goneLauncher(chain: readonly LauncherProcess[], readStat: ReadStat = readProcStat) {
  for (const launcher of chain) {
    const stat = readStat(launcher.pid);
    if (stat === null || stat.state === 'Z' || stat.state === 'X' || stat.startTime !== launcher.startTime)
      return launcher;
  }
  return null;
}

export interface LauncherWatch {
  readonly chain: readonly LauncherProcess[];
  stop(): void;
}

/**
 * Polls `chain` (a few small /proc reads per tick) and calls `onGone` once
 * when a process of it is gone. The timer is unref'd: it never keeps the
 * manager alive. A tick that runs out of descriptors is skipped; any other
 * error of a tick is handed to `onError` and ends the watch.
 */
export function watchLauncher(
  chain: readonly LauncherProcess[],
  handlers: { onGone: (launcher: LauncherProcess) => void; onError: (error: unknown) => void },
  options: { intervalMs?: number; readStat?: ReadStat } = {},
): LauncherWatch {
  const { intervalMs = LAUNCHER_POLL_MS, readStat = readProcStat } = options;
  const timer = setInterval(() => {
    try {
      const gone = goneLauncher(chain, readStat);
      if (gone === null) return;
      clearInterval(timer);
      handlers.onGone(gone);
    } catch (error) {
      // Out of descriptors for now: this tick cannot tell, the next one may.
      if (isOutOfResources(error)) return;
      clearInterval(timer);
      handlers.onError(error);
    }
  }, intervalMs);
  timer.unref();
  return { chain, stop: () => clearInterval(timer) };
}
