import { abortableDelay } from '../abort.js';
import type { ServiceConfig } from '../config.js';
import { SystemManagerError } from '../errors.js';
import type { Logger } from '../logger.js';
import { type ProcessEvents, ServiceProcess } from '../services.js';
import { probeService } from './health.js';
import { IdleCadence } from './idle-cadence.js';
import { RestartPolicy, resourceErrno, type ServiceExit } from './restart-policy.js';
import { type Requester, type RestartReason, ServiceHistory } from './service-history.js';
import { createServiceOutput, type ServiceOutput } from './service-output.js';
import type {
  ProcessIdentity,
  ServiceState,
  ServiceStatus,
  SupervisorHooks,
  SupervisorSettings,
} from './types.js';

export type {
  ProcessIdentity,
  ServiceState,
  ServiceStatus,
  SupervisorHooks,
  SupervisorSettings,
} from './types.js';

type WaitOutcome = 'healthy' | 'exited' | 'timeout' | 'aborted';

/**
 * One configured service under supervision: spawn, wait until healthy, then
 * keep checking its health (every `intervals.healthMs`, backing off to
 * `intervals.healthIdleMs` while it passes), restart it by its
 * policy (with backoff) when it exits or fails `unhealthyAfter` checks in a
 * row, and mark it `failed` after `maxRestarts` within the window. Its port
 * stays the same across restarts.
 */
export class SupervisedService {
  readonly output: ServiceOutput;
  /** Recent restarts with their reasons, and health checks, for `describe`. */
  readonly history = new ServiceHistory();
  private readonly policy: RestartPolicy;
  private proc: ServiceProcess | undefined;
  private state: ServiceState = 'stopped';
  private health: ServiceStatus['health'] = 'unknown';
  private startedAt: number | null = null;
  private restarts = 0;
  private badMessageCount = 0;
  private healthFailures = 0;
  private spawnResourceErrorCount = 0;
  private consecutiveFailures = 0;
  private supervising = false;
  private stopping = false;
  /** Set while the supervisor itself stops a process to replace it, so its exit is not a crash. */
  private replacing = false;
  private probing = false;
  private previousExit: ServiceExit | null = null;
  /** Stopped by an operator: no restart, no health check, until an operator starts it again. */
  private held: { readonly by: Requester; readonly at: number } | null = null;
  /** A spawn in flight (a restart): stop() waits for it, so no process is left behind a stop. */
  private spawning: Promise<void> | undefined;
  private livenessTimer: NodeJS.Timeout | undefined;
  private readonly cadence: IdleCadence;
  private backoffTimer: NodeJS.Timeout | undefined;
  /** Aborted by stop() and by an operator's stop or restart: ends health waits and backoff at once. */
  private lifetime = new AbortController();

  constructor(
    readonly config: ServiceConfig,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly settings: SupervisorSettings,
    private readonly log: Logger,
    private readonly hooks: SupervisorHooks,
  ) {
    this.output = createServiceOutput(settings.logDestination, config.name, log, settings.logs, settings.tap);
    this.cadence = new IdleCadence(settings.intervals.healthMs, settings.intervals.healthIdleMs);
    this.policy = new RestartPolicy(config);
  }

  /** The current process's pid. */
  get pid(): number | null {
    return this.proc?.running ? this.proc.pid : null;
  }

  /** The current process (running or not). */
  get process(): ServiceProcess | undefined {
    return this.proc;
  }

  /** The current process's identity, while one runs. */
  identity(): ProcessIdentity | null {
    const pid = this.pid;
    return pid === null ? null : { pid, processStartTime: this.proc?.processStartTime ?? null };
  }

  /** Whether a process of this service runs. */
  get isRunning(): boolean {
    return this.proc?.running === true;
  }

  /** The current state. */
  get currentState(): ServiceState {
    return this.state;
  }

  /**
   * Takes over the counters of the service this one replaces (a reload of a
   * changed definition), so restarts, failed health checks, refused messages
   * and spawn errors count on across the reload; the replacement itself is
   * one more restart.
   */
  continueCountsOf(replaced: SupervisedService): void {
    this.restarts = replaced.restarts + 1;
    this.healthFailures = replaced.healthFailures;
    this.badMessageCount = replaced.badMessageCount;
    this.spawnResourceErrorCount = replaced.spawnResourceErrorCount;
    this.history.continueFrom(replaced.history);
    this.history.noteRestart('reload', null);
  }

  /** Counts one refused IPC message. */
  noteBadMessage(): void {
    this.badMessageCount += 1;
  }

  status(): ServiceStatus {
    const lastExit = this.proc?.exitInfo ?? this.previousExit;
    return {
      name: this.config.name,
      state: this.state,
      health: this.health,
      pid: this.pid,
      port: this.port,
      portName: this.config.port,
      startedAt: this.isRunning ? this.startedAt : null,
      restarts: this.restarts,
      lastExit,
      badMessages: this.badMessageCount,
      healthCheckFailures: this.healthFailures,
      spawnResourceErrors: this.spawnResourceErrorCount,
      logs: this.output.status(),
      stoppedBy: this.held === null ? null : { ...this.held.by, at: this.held.at },
      exitCode: lastExit?.code ?? null,
      signal: lastExit?.signal ?? null,
    };
  }

  /**
   * First start: spawns the process and registers it (via the `onSpawned`
   * hook). Out of descriptors or processes, it tries again for up to
   * `startTimeoutMs` before it gives up.
   */
  async launch(): Promise<void> {
    await this.spawn(null, Date.now() + this.config.startTimeoutMs);
  }

  /**
   * Waits for the first healthy check after {@link launch}. Fails fast (no
   * restart: supervision starts with {@link supervise}) when the service exits
   * or times out first, with its last output lines; `signal` aborts the wait
   * at once (rejecting with its reason).
   */
  async awaitHealthy(
    options: { signal?: AbortSignal; onProgress?: (elapsedMs: number) => void } = {},
  ): Promise<void> {
    const outcome = await this.waitHealthy(options.signal, options.onProgress);
    if (outcome === 'healthy') return;
    if (outcome === 'aborted')
      throw options.signal?.reason ?? new Error(`service ${this.config.name} is stopping`);
    await this.output.settled();
    if (outcome === 'exited') {
      const exit = this.proc?.exitInfo;
      throw new SystemManagerError(
        'E_SERVICE_FAILED',
        `service ${this.config.name} exited before it became healthy (code ${exit?.code ?? null}, signal ${exit?.signal ?? null})`,
        { details: this.output.lastLines() },
      );
    }
    throw new SystemManagerError(
      'E_SERVICE_UNHEALTHY',
      `service ${this.config.name} did not become healthy on port ${this.port} within ${this.config.startTimeoutMs} ms`,
      { details: this.output.lastLines() },
    );
  }

  /** From now on: liveness checks, and restarts by policy. */
  supervise(): void {
    if (this.supervising || this.stopping) return;
    this.supervising = true;
    this.scheduleLiveness(this.cadence.reset());
    // Supervised after a start that did not succeed (a reload's new definition): the policy decides now.
    if (this.state === 'exited' && this.proc?.exitInfo) this.afterFailure(this.proc.exitInfo);
    else if (this.state === 'starting' && this.proc?.running)
      this.replaceProcess().catch((error: unknown) =>
        this.log.error({ err: error, service: this.config.name }, 'replacing an unhealthy start failed'),
      );
  }

  /** Stops the service for good (no restart): SIGTERM, SIGKILL after the grace period. Idempotent. */
  async stop(graceMs = this.settings.graceMs): Promise<void> {
    this.stopping = true;
    this.lifetime.abort(new Error(`service ${this.config.name} is stopping`));
    clearTimeout(this.livenessTimer);
    clearTimeout(this.backoffTimer);
    await this.spawning?.catch(() => {});
    const proc = this.proc;
    if (proc?.running) {
      this.state = 'stopping';
      await proc.stop(graceMs);
    }
    this.state = 'stopped';
    this.health = 'unknown';
    await this.output
      .close()
      .catch((error: unknown) =>
        this.log.warn({ err: error, service: this.config.name }, 'closing the service output failed'),
      );
  }

  /**
   * An operator's stop: the process is stopped (SIGTERM, SIGKILL after the
   * grace period) and the service stays stopped — no restart, no health
   * check — until {@link release}. Its process record leaves the session.
   * @returns false when it was stopped already.
   */
  async hold(by: Requester): Promise<boolean> {
    this.refuseWhileStopping();
    if (this.held) return false;
    this.held = { by, at: Date.now() };
    await this.interrupt();
    this.state = 'stopped';
    this.health = 'unknown';
    await this.hooks.onHeld(this);
    this.log.info({ service: this.config.name, by }, `service ${this.config.name} stopped by ${by.user}`);
    return true;
  }

  /**
   * An operator's start of a stopped, failed or exited service: a fresh
   * restart budget, a new process, supervised again once healthy.
   * @returns false when it was running already (nothing done).
   * @throws SystemManagerError E_SERVICE_FAILED / E_SERVICE_UNHEALTHY when it does not become healthy.
   */
  async release(by: Requester): Promise<boolean> {
    this.refuseWhileStopping();
    const down = this.held !== null || this.state === 'failed' || this.state === 'exited';
    if (!down) return false;
    await this.interrupt();
    this.held = null;
    this.policy.reset();
    this.history.noteRestart('started', this.proc?.exitInfo ?? null, by);
    await this.runOperatorSpawn(null);
    return true;
  }

  /**
   * An operator's restart: the running process (if any) is stopped and a new
   * one started (a stopped service is started); counted as a restart with
   * reason `operator`.
   * @throws SystemManagerError E_SERVICE_FAILED / E_SERVICE_UNHEALTHY when it does not become healthy.
   */
  async restartNow(by: Requester): Promise<void> {
    this.refuseWhileStopping();
    const replaced = this.identity();
    await this.interrupt();
    this.held = null;
    this.restarts += 1;
    this.history.noteRestart('operator', null, by);
    await this.runOperatorSpawn(replaced);
  }

  /**
   * Sends `signal` to the service's process group, if its process still is
   * the one this service spawned (pid and start time).
   * @throws SystemManagerError E_SERVICE_NOT_RUNNING when no process of it runs.
   */
  sendSignal(signal: NodeJS.Signals): void {
    const proc = this.proc;
    if (!proc?.running || !proc.signalIfStillOurs(signal))
      throw new SystemManagerError('E_SERVICE_NOT_RUNNING', `service ${this.config.name} is not running`);
  }

  private refuseWhileStopping(): void {
    if (this.stopping)
      throw new SystemManagerError('E_ABORTED', `service ${this.config.name} is stopping with the manager`);
  }

  /** Ends what supervision was doing (a backoff, a health wait, a spawn) and stops the process, not as a crash. */
  private async interrupt(): Promise<void> {
    this.lifetime.abort(new Error(`service ${this.config.name} was stopped by an operator`));
    clearTimeout(this.livenessTimer);
    clearTimeout(this.backoffTimer);
    await this.spawning?.catch(() => {});
    const proc = this.proc;
    if (proc?.running) {
      this.state = 'stopping';
      this.replacing = true;
      try {
        await proc.stop(this.settings.graceMs);
      } finally {
        this.replacing = false;
      }
    }
    this.lifetime = new AbortController();
  }

  /** Spawns for an operator, waits for health, and supervises again; a failure goes to the restart policy. */
  private async runOperatorSpawn(replaced: ProcessIdentity | null): Promise<void> {
    await this.spawn(replaced, Date.now() + this.config.startTimeoutMs);
    const outcome = await this.waitHealthy(this.lifetime.signal);
    if (this.supervising) this.scheduleLiveness(this.cadence.reset());
    if (outcome === 'healthy' || outcome === 'aborted') return;
    await this.output.settled();
    const details = this.output.lastLines();
    if (outcome === 'exited') {
      const exit = this.proc?.exitInfo;
      throw new SystemManagerError(
        'E_SERVICE_FAILED',
        `service ${this.config.name} exited before it became healthy (code ${exit?.code ?? null}, signal ${exit?.signal ?? null})`,
        { details },
      );
    }
    await this.replaceProcess();
    throw new SystemManagerError(
      'E_SERVICE_UNHEALTHY',
      `service ${this.config.name} did not become healthy on port ${this.port} within ${this.config.startTimeoutMs} ms`,
      { details },
    );
  }

  private spawn(replaced: ProcessIdentity | null, deadline = Number.POSITIVE_INFINITY): Promise<void> {
    const spawning = this.spawnProcess(replaced, deadline);
    this.spawning = spawning;
    return spawning.finally(() => {
      if (this.spawning === spawning) this.spawning = undefined;
    });
  }

  private async spawnProcess(replaced: ProcessIdentity | null, deadline: number): Promise<void> {
    this.state = 'starting';
    this.health = 'unknown';
    this.consecutiveFailures = 0;
    if (this.proc?.exitInfo) this.previousExit = this.proc.exitInfo;
    const proc: ServiceProcess = await this.spawnWhenResourcesAllow(deadline, {
      onMessage: (message) => this.hooks.onMessage(this, message),
      onExit: (exit) => this.onExit(proc, exit),
    });
    this.proc = proc;
    this.startedAt = Date.now();
    this.log.info({ service: this.config.name, servicePid: proc.pid, port: this.port }, 'service started');
    await this.hooks.onSpawned(this, replaced);
  }

  /**
   * Spawns the process. A spawn that fails for want of descriptors or
   * processes (EMFILE, ENFILE, EAGAIN) is the machine's state, not the
   * service's fault: it is logged, counted, and tried again with its own
   * backoff (100 ms doubling to 5 s) until it succeeds, `deadline` passes or
   * the service is stopped, without using up `maxRestarts`. Any other
   * failure is thrown at once.
   */
  private async spawnWhenResourcesAllow(deadline: number, events: ProcessEvents): Promise<ServiceProcess> {
    for (;;) {
      try {
        const proc = await ServiceProcess.spawn(this.config, this.env, this.output, this.log, events);
        this.policy.spawned();
        return proc;
      } catch (error) {
        const errno = resourceErrno(error);
        if (errno === undefined) throw error;
        this.spawnResourceErrorCount += 1;
        const { delayMs, attempt } = this.policy.resourceError();
        if (Date.now() + delayMs > deadline) throw error;
        this.state = 'backoff';
        this.log.warn(
          {
            service: this.config.name,
            errno,
            delayMs,
            attempt,
            spawnResourceErrors: this.spawnResourceErrorCount,
          },
          `cannot spawn ${this.config.name}: ${errno} (out of resources, not counted as a restart); trying again in ${delayMs} ms`,
        );
        if (!(await abortableDelay(delayMs, this.lifetime.signal))) throw this.lifetime.signal.reason;
        this.state = 'starting';
      }
    }
  }

  private onExit(proc: ServiceProcess, exit: ServiceExit): void {
    try {
      this.handleExit(proc, exit);
    } catch (error) {
      // An event handler of a child process: whatever went wrong is logged, never thrown into Node.
      this.log.error({ err: error, service: this.config.name }, 'handling a service exit failed');
    }
  }

  private handleExit(proc: ServiceProcess, exit: ServiceExit): void {
    this.output.flush();
    if (proc !== this.proc || this.stopping || this.replacing || this.held) return;
    this.health = 'unknown';
    // The last words come from where the output is written: once it has caught up with the exit.
    void this.output
      .settled()
      .catch(() => {})
      .then(() =>
        this.log.error(
          {
            service: this.config.name,
            code: exit.code,
            signal: exit.signal,
            output: this.output.lastLines().slice(-5),
          },
          'service exited',
        ),
      )
      .catch(() => {});
    if (!this.supervising) {
      this.state = 'exited';
      return;
    }
    this.afterFailure(exit);
  }

  /** Applies the restart policy after an exit (or, with `exit` undefined, a liveness failure). */
  private afterFailure(exit: ServiceExit | undefined): void {
    if (this.stopping || this.held) return;
    const decision = this.policy.decide(exit);
    if (decision.action === 'stay-down') {
      this.state = exit === undefined ? 'unhealthy' : 'exited';
      this.log.warn(
        { service: this.config.name },
        `service ${this.config.name} not restarted: ${decision.reason}`,
      );
      return;
    }
    if (decision.action === 'fail') {
      this.state = 'failed';
      this.log.error(
        { service: this.config.name, reason: decision.reason },
        `service ${this.config.name} failed: ${decision.reason}`,
      );
      const proc = this.proc;
      // A failed service that still runs (unhealthy) is stopped: it is not ours to keep half-alive.
      if (proc?.running) {
        this.replacing = true;
        void proc.stop(this.settings.graceMs).finally(() => {
          this.replacing = false;
        });
      }
      this.hooks.onFailed(this, decision.reason);
      return;
    }
    this.state = 'backoff';
    this.log.warn(
      { service: this.config.name, delayMs: decision.delayMs, attempt: decision.attempt },
      `restarting ${this.config.name} in ${decision.delayMs} ms`,
    );
    this.backoffTimer = setTimeout(() => {
      this.restart(exit === undefined ? 'unhealthy' : 'exit', exit ?? null).catch((error: unknown) => {
        // Stopped while it waited for resources to spawn: nothing failed.
        if (this.stopping || this.held) return;
        this.log.error({ err: error, service: this.config.name }, `restart of ${this.config.name} failed`);
        this.afterFailure({ code: null, signal: null, at: Date.now() });
      });
    }, decision.delayMs);
  }

  private async restart(reason: RestartReason, exit: ServiceExit | null): Promise<void> {
    if (this.stopping || this.held) return;
    const replaced = this.proc
      ? { pid: this.proc.pid ?? 0, processStartTime: this.proc.processStartTime }
      : null;
    this.restarts += 1;
    this.history.noteRestart(reason, exit);
    await this.spawn(replaced);
    const outcome = await this.waitHealthy(this.lifetime.signal);
    if (outcome === 'healthy') {
      this.log.info(
        { service: this.config.name, restarts: this.restarts },
        `service ${this.config.name} answering again`,
      );
    } else if (outcome === 'timeout') {
      await this.output.settled();
      this.log.error(
        {
          service: this.config.name,
          timeoutMs: this.config.startTimeoutMs,
          output: this.output.lastLines().slice(-5),
        },
        `restarted ${this.config.name} did not become healthy`,
      );
      await this.replaceProcess();
    }
    // 'exited': onExit applied the policy already; 'aborted': we are stopping.
  }

  /** Stops the running process on purpose and applies the restart policy to it. */
  private async replaceProcess(): Promise<void> {
    const proc = this.proc;
    if (proc?.running) {
      this.replacing = true;
      try {
        await proc.stop(this.settings.graceMs);
      } finally {
        this.replacing = false;
      }
    }
    this.afterFailure(undefined);
  }

  private async waitHealthy(
    signal: AbortSignal | undefined,
    onProgress?: (elapsedMs: number) => void,
  ): Promise<WaitOutcome> {
    const started = Date.now();
    const deadline = started + this.config.startTimeoutMs;
    const proc = this.proc;
    let lastProgress = started;
    const signals = [this.lifetime.signal, ...(signal ? [signal] : [])];
    const aborted = AbortSignal.any(signals);
    for (;;) {
      if (aborted.aborted) return 'aborted';
      if (!proc?.running || proc !== this.proc) return 'exited';
      if (await probeService(this.config.health, this.port)) {
        if (aborted.aborted) return 'aborted';
        if (proc !== this.proc || !proc.running) return 'exited';
        this.markHealthy();
        return 'healthy';
      }
      const now = Date.now();
      if (now >= deadline) return 'timeout';
      if (onProgress && now - lastProgress >= 1_000) {
        lastProgress = now;
        onProgress(now - started);
      }
      await abortableDelay(this.settings.intervals.healthPollMs, aborted);
    }
  }

  private markHealthy(): void {
    this.history.noteHealth(true);
    this.state = 'healthy';
    this.health = 'ok';
    this.consecutiveFailures = 0;
    this.policy.markHealthy();
  }

  /** The next liveness check in `delayMs` (one timer per service, unref'd: it never keeps the manager alive). */
  private scheduleLiveness(delayMs: number): void {
    clearTimeout(this.livenessTimer);
    if (this.stopping || this.held) return;
    this.livenessTimer = setTimeout(() => {
      this.checkLiveness()
        .catch((error: unknown) => {
          this.log.error({ err: error, service: this.config.name }, 'liveness check failed unexpectedly');
          return false;
        })
        .then((passed) => this.scheduleLiveness(this.cadence.next(passed)));
    }, delayMs);
    this.livenessTimer.unref();
  }

  /**
   * One liveness check; resolves whether it passed. Skipped while the service
   * is not running healthy or unhealthy (starting, restarting): that counts
   * as not passed, so a new process is checked at the base interval.
   */
  private async checkLiveness(): Promise<boolean> {
    if (this.probing || this.stopping || (this.state !== 'healthy' && this.state !== 'unhealthy'))
      return false;
    const proc = this.proc;
    if (!proc?.running) return false;
    this.probing = true;
    let ok: boolean;
    try {
      ok = await probeService(this.config.health, this.port);
    } finally {
      this.probing = false;
    }
    if (proc !== this.proc || !proc.running || this.stopping) return false;
    if (this.state !== 'healthy' && this.state !== 'unhealthy') return false;
    if (ok) {
      if (this.state === 'unhealthy')
        this.log.info({ service: this.config.name }, `service ${this.config.name} healthy again`);
      this.markHealthy();
      return true;
    }
    this.healthFailures += 1;
    this.history.noteHealth(false);
    this.consecutiveFailures += 1;
    this.health = 'failing';
    this.log.warn(
      {
        service: this.config.name,
        consecutiveFailures: this.consecutiveFailures,
        unhealthyAfter: this.config.unhealthyAfter,
      },
      `health check of ${this.config.name} failed`,
    );
    if (this.consecutiveFailures < this.config.unhealthyAfter || this.state === 'unhealthy') return false;
    this.state = 'unhealthy';
    if (this.config.restart === 'never') {
      this.log.error(
        { service: this.config.name },
        `service ${this.config.name} is unhealthy (restart policy "never": left running)`,
      );
      return false;
    }
    this.log.error({ service: this.config.name }, `service ${this.config.name} is unhealthy: restarting it`);
    await this.replaceProcess();
    return false;
  }
}
