import { type ChildProcess, spawn } from 'node:child_process';
import { readProcessStartTime, SESSION_ID_ENV } from '@core/session';
import { resolveCommand, type ServiceConfig } from './config.js';
import { SystemManagerError } from './errors.js';
import type { Logger } from './logger.js';
import type { ServiceExit } from './supervisor/restart-policy.js';
import type { ServiceOutput } from './supervisor/service-output.js';

/** What one spawned process reports to its supervisor. */
export interface ProcessEvents {
  /** A raw IPC message: untrusted, validated by the receiver. */
  readonly onMessage: (message: unknown) => void;
  /** The process exited (also after stop()). */
  readonly onExit: (exit: ServiceExit) => void;
}

/**
 * One child process of a service: spawned in its own process group with its
 * port in the environment, output where the service's {@link ServiceOutput} says, IPC
 * messages handed on unparsed. A restart is a new ServiceProcess.
 */
export class ServiceProcess {
  private exit: ServiceExit | null = null;
  private readonly exited: Promise<ServiceExit>;
  /** Start time of the child's pid, recorded so a reused pid is never mistaken for it. */
  processStartTime: string | null = null;

  private constructor(
    private readonly child: ChildProcess,
    private readonly name: string,
    private readonly log: Logger,
    events: ProcessEvents,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal, at: Date.now() };
        child.channel?.unref();
        resolve(this.exit);
        events.onExit(this.exit);
      });
    });
    child.on('message', (message) => events.onMessage(message));
  }

  /**
   * Spawns a service. Resolves once it has a pid.
   * @throws SystemManagerError E_SERVICE_FAILED when the command cannot be started.
   */
  static async spawn(
    config: ServiceConfig,
    env: Record<string, string>,
    output: ServiceOutput,
    log: Logger,
    events: ProcessEvents,
  ): Promise<ServiceProcess> {
    const { command, args } = resolveCommand(config);
    const targets = await output.targets();
    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        cwd: config.cwd,
        // The owner's session id goes last: a service's own env cannot disown it (the reaper checks it).
        env: { ...process.env, ...env, ...config.env, ...ownerOf(env) },
        // Own process group: a Ctrl-C in the terminal reaches the manager, which
        // stops its services in order, instead of every child at once.
        detached: true,
        stdio: ['ignore', targets[0], targets[1], 'ipc'],
      });
    } catch (error) {
      // Sockets the child would have written to itself are ours to close.
      for (const target of targets) if (typeof target === 'object') target.destroy();
      throw error;
    }
    output.attach(child, targets);
    // A broken pipe or channel must never become an uncaught 'error' event.
    child.stdout?.on('error', () => {});
    child.stderr?.on('error', () => {});
    child.channel?.on?.('error', () => {});
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) =>
        reject(
          new SystemManagerError(
            'E_SERVICE_FAILED',
            `service ${config.name}: cannot start ${command}: ${error.message}`,
            { cause: error },
          ),
        ),
      );
    });
    child.on('error', (error) => log.warn({ err: error, service: config.name }, 'service process error'));
    const proc = new ServiceProcess(child, config.name, log, events);
    proc.processStartTime = child.pid === undefined ? null : readProcessStartTime(child.pid);
    return proc;
  }

  /** The child's pid. */
  get pid(): number | null {
    return this.child.pid ?? null;
  }

  /** How it exited, or null while it runs. */
  get exitInfo(): ServiceExit | null {
    return this.exit;
  }

  /** Whether it still runs (as far as Node has seen). */
  get running(): boolean {
    return this.exit === null;
  }

  /** SIGTERM to its process group, SIGKILL after `graceMs`. Resolves when it is gone. */
  async stop(graceMs: number): Promise<ServiceExit> {
    const pid = this.child.pid;
    if (this.exit !== null || pid === undefined) return this.exited;
    signalGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => {
      this.log.warn({ service: this.name, graceMs }, 'service ignored SIGTERM; sending SIGKILL');
      signalGroup(pid, 'SIGKILL');
    }, graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /**
   * Sends `signal` to its process group if the pid still is this process
   * (its start time unchanged): a reused pid is never signalled.
   * @returns whether it was sent.
   */
  signalIfStillOurs(signal: NodeJS.Signals): boolean {
    const pid = this.child.pid;
    if (pid === undefined || this.exit !== null || this.isGoneSync()) return false;
    return signalGroup(pid, signal);
  }

  /** Synchronous SIGTERM for `process.on('exit')`, where nothing asynchronous runs. */
  killSync(): boolean {
    const pid = this.child.pid;
    if (pid === undefined || this.exit !== null) return false;
    signalGroup(pid, 'SIGTERM');
    return true;
  }

  /** Whether the child is gone for good (a zombie awaiting our reap counts as gone). Sync. */
  isGoneSync(): boolean {
    const pid = this.child.pid;
    return (
      pid === undefined ||
      this.processStartTime === null ||
      readProcessStartTime(pid) !== this.processStartTime
    );
  }

  /** SIGKILL to its process group. Sync. */
  forceKillSync(): void {
    const pid = this.child.pid;
    if (pid !== undefined && !this.isGoneSync()) signalGroup(pid, 'SIGKILL');
  }
}

/** Signals a service's process group (it leads one: spawned detached), falling back to the pid alone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

/** The session id entry of `env`, if any (see `SESSION_ID_ENV`). */
function ownerOf(env: Record<string, string>): Record<string, string> {
  const sessionId = env[SESSION_ID_ENV];
  return sessionId === undefined ? {} : { [SESSION_ID_ENV]: sessionId };
}
