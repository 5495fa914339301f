import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { readProcessStartTime } from '@core/session';
import { resolveCommand, type ServiceConfig } from './config.js';
import { SystemManagerError } from './errors.js';
import type { Logger } from './logger.js';
import { isServiceMessage, type ServiceMessage } from './protocol.js';

const TAIL_LINES = 20;

/** Lifecycle of a managed service. */
export type ServiceState = 'starting' | 'healthy' | 'stopping' | 'stopped' | 'exited';

/** What `status` shows of a service. */
export interface ServiceStatus {
  readonly name: string;
  readonly state: ServiceState;
  readonly pid: number | null;
  readonly port: number;
  readonly portName: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
}

/** Keeps the last lines of a stream for error reports. */
class OutputTail {
  private readonly lines: string[] = [];
  private partial = '';

  push(chunk: Buffer | string): void {
    const parts = (this.partial + chunk.toString()).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      this.lines.push(line);
      if (this.lines.length > TAIL_LINES) this.lines.shift();
    }
  }

  get(): string[] {
    return this.partial ? [...this.lines, this.partial].slice(-TAIL_LINES) : [...this.lines];
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function probeHttp(port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 1_000, agent: false }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) >= 200 && (res.statusCode ?? 500) < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function probeTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1_000, () => socket.destroy());
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

/** One child process started and owned by this manager. */
export class ManagedService {
  readonly config: ServiceConfig;
  readonly port: number;
  private child: ChildProcess | undefined;
  private state: ServiceState = 'stopped';
  private exitCode: number | null = null;
  private exitSignal: string | null = null;
  private readonly tail = new OutputTail();
  private exited: Promise<void> = Promise.resolve();
  /** Start time of the child's pid, recorded so a reused pid is never mistaken for it. */
  processStartTime: string | null = null;

  constructor(
    config: ServiceConfig,
    port: number,
    private readonly env: Record<string, string>,
    private readonly log: Logger,
    private readonly onMessage: (service: string, message: ServiceMessage) => void,
  ) {
    this.config = config;
    this.port = port;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get isRunning(): boolean {
    return this.state === 'starting' || this.state === 'healthy' || this.state === 'stopping';
  }

  /** The last lines the service printed (stdout and stderr). */
  outputTail(): string[] {
    return this.tail.get();
  }

  status(): ServiceStatus {
    return {
      name: this.config.name,
      state: this.state,
      pid: this.pid,
      port: this.port,
      portName: this.config.port,
      exitCode: this.exitCode,
      signal: this.exitSignal,
    };
  }

  /** Spawns the service with its port in the environment. Resolves once it has a pid. */
  async start(): Promise<void> {
    const { command, args } = resolveCommand(this.config);
    this.state = 'starting';
    const child = spawn(command, args, {
      cwd: this.config.cwd,
      env: { ...process.env, ...this.env, ...this.config.env },
      // Own process group: a Ctrl-C in the terminal reaches the manager, which
      // stops its services in order, instead of every child at once.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    child.stdout?.on('data', (chunk: Buffer) => this.tail.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.tail.push(chunk));
    child.on('message', (message) => {
      if (isServiceMessage(message)) this.onMessage(this.config.name, message);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        if (this.state !== 'stopping') {
          this.log.error(
            { service: this.config.name, code, signal, output: this.tail.get().slice(-5) },
            'service exited',
          );
        }
        this.state = this.state === 'stopping' ? 'stopped' : 'exited';
        resolve();
      });
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) => {
        this.state = 'exited';
        reject(
          new SystemManagerError(
            'E_SERVICE_FAILED',
            `service ${this.config.name}: cannot start ${command}: ${error.message}`,
            {
              cause: error,
            },
          ),
        );
      });
    });
    this.processStartTime = child.pid === undefined ? null : readProcessStartTime(child.pid);
  }

  /**
   * Polls the health check until it passes. Fails fast when the process exits,
   * and after `startTimeoutMs`; both errors carry the output tail.
   */
  async waitHealthy(options: { pollMs: number; onProgress?: (elapsedMs: number) => void }): Promise<void> {
    const started = Date.now();
    const deadline = started + this.config.startTimeoutMs;
    let lastProgress = started;
    for (;;) {
      if (this.state === 'exited') {
        throw new SystemManagerError(
          'E_SERVICE_FAILED',
          `service ${this.config.name} exited before it became healthy (code ${this.exitCode}, signal ${this.exitSignal})`,
          { details: this.outputTail() },
        );
      }
      const healthy =
        this.config.health.type === 'http'
          ? await probeHttp(this.port, this.config.health.path)
          : await probeTcp(this.port);
      if (healthy && this.state === 'starting') {
        this.state = 'healthy';
        return;
      }
      const now = Date.now();
      if (now >= deadline) {
        throw new SystemManagerError(
          'E_SERVICE_UNHEALTHY',
          `service ${this.config.name} did not become healthy on port ${this.port} within ${this.config.startTimeoutMs} ms`,
          { details: this.outputTail() },
        );
      }
      if (options.onProgress && now - lastProgress >= 1_000) {
        lastProgress = now;
        options.onProgress(now - started);
      }
      await delay(options.pollMs);
    }
  }

  /** SIGTERM to its process group, SIGKILL after `graceMs`. Resolves when it is gone. */
  async stop(graceMs: number): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined || !this.isRunning) return;
    this.state = 'stopping';
    signalGroup(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      this.log.warn({ service: this.config.name, graceMs }, 'service ignored SIGTERM; sending SIGKILL');
      signalGroup(child.pid as number, 'SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
    child.channel?.unref();
  }

  /** Synchronous kill for `process.on('exit')`, where nothing asynchronous runs. */
  killSync(): boolean {
    const pid = this.child?.pid;
    if (pid === undefined || !this.isRunning) return false;
    signalGroup(pid, 'SIGTERM');
    return true;
  }

  /** Whether the child is gone for good (a zombie awaiting our reap counts as gone). Sync. */
  isGoneSync(): boolean {
    const pid = this.child?.pid;
    return (
      pid === undefined ||
      this.processStartTime === null ||
      readProcessStartTime(pid) !== this.processStartTime
    );
  }

  /** SIGKILL to its process group. Sync. */
  forceKillSync(): void {
    const pid = this.child?.pid;
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
