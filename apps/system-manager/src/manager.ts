import type http from 'node:http';
import os from 'node:os';
import {
  type GlobalSessionManager,
  getSessionManager,
  SESSION_ID_ENV,
  type SessionManagerOptions,
} from '@core/session';
import { StatsRegistry } from '@core/stats';
import { raceAbort } from './abort.js';
import { defaultSessionDir, earlierSessionDirs } from './commands/sessions-source.js';
import { loadConfig, parseConfig, type SystemManagerConfig } from './config.js';
import { startControlServer } from './control.js';
import { controlActions } from './control-socket/actions.js';
import { controlSocketDir, prepareSocketPlace, socketPathOf } from './control-socket/location.js';
import { type ControlSocket, startControlSocket } from './control-socket/server.js';
import { configuredSocketGroup } from './control-socket/socket-group.js';
import { ConfigError, SystemManagerError } from './errors.js';
import type { FleetStore } from './fleet-store.js';
import { createLogger, type Logger } from './logger.js';
import { ManagerPorts, servicePortEnv } from './manager-ports.js';
import type { AsyncSystemManagerOptions, StartOptions, StartReport, StopReport } from './manager-types.js';
import {
  adoptedByKind,
  createProcessMetrics,
  type ProcessMetrics,
  ReapTally,
  renderAppMetrics,
} from './metrics/index.js';
import { forgetProcess, registerProcess, releaseSession } from './ownership.js';
import { type CleanupAction, reapAndCleanUp } from './reaper.js';
import { ReloadedPorts } from './reload-ports.js';
import { createSessionStore } from './session-store.js';
import {
  type AppMetricsInput,
  appMetricsFrom,
  type ManagerState,
  type ManagerStatus,
  sessionStoreStatusOf,
  type ValidationSummary,
} from './status.js';
import { StoreHealth } from './store-health.js';
import { IdleCadence } from './supervisor/idle-cadence.js';
import {
  LOG_WRITER_INSTALL_HINT,
  type LogDestination,
  resolveLogDestination,
} from './supervisor/log-destination.js';
import { ServiceMessages } from './supervisor/messages.js';
import { OutputTap } from './supervisor/output-tap.js';
import { type ReloadReport, reloadServices } from './supervisor/reload.js';
import { SupervisedService } from './supervisor/service.js';
import { validateInvariants } from './validation.js';

export { DEFAULT_CONTROL_PORT, PORT_ENV_PREFIX } from './manager-ports.js';
export type { ManagerStatus, SessionStoreStatus, ValidationSummary } from './status.js';

/** How long the synchronous exit path waits for services after SIGTERM before SIGKILL. */
const EXIT_GRACE_MS = 1_500;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

export type { AsyncSystemManagerOptions, StartOptions, StartReport, StopReport } from './manager-types.js';
export type { ReloadReport } from './supervisor/reload.js';

/**
 * The boot orchestrator: session first,
 * reap what dead sessions left, resolve and reserve ports, start services,
 * wait for health, serve the control endpoint, validate invariants — and from
 * then on supervise: restart services by policy, forward their logs, survive
 * bad messages and store outages, reload on request.
 *
 * Construction reads config and env only; nothing starts until `start()`.
 */
export class AsyncSystemManager extends ManagerPorts {
  /** Per-service cache statistics reported by the services, served at GET /metrics. */
  readonly stats = new StatsRegistry();
  private currentConfig: SystemManagerConfig;
  private readonly log: Logger;
  private readonly sessionDir: string | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private readonly onServiceFailed: AsyncSystemManagerOptions['onServiceFailed'];
  private readonly storeHealth: StoreHealth;
  private readonly messages: ServiceMessages;
  /** Reaping cleanups by kind and outcome, for /metrics. */
  private readonly reapTally = new ReapTally();
  private session: GlobalSessionManager | undefined;
  private sessionStore: FleetStore | undefined;
  private services: SupervisedService[] = [];
  private controlServer: http.Server | undefined;
  private controlSocket: ControlSocket | undefined;
  /** Where `logs -f` followers listen to the services' output. */
  private readonly tap = new OutputTap();
  /** The config file reloads read (undefined: discovered as at start; null: given as an object, no file). */
  private readonly configFile: string | undefined | null;
  private readonly socketDir: string | false;
  /** Ports named by a reloaded config, on top of those resolved at start. */
  private readonly reloadedPorts: ReloadedPorts;
  /** The settings bound at start (reserved ports, the store): a reload leaves them as they are. */
  private readonly boundAtStart: Pick<
    SystemManagerConfig,
    'ports' | 'fallbacks' | 'dynamicRange' | 'session'
  >;
  /** Process metrics (memory, CPU, fds, event-loop lag) sampled while the control endpoint serves them. */
  private processMetrics: ProcessMetrics | undefined;
  private validateTimer: NodeJS.Timeout | undefined;
  private validateCadence: IdleCadence | undefined;
  private resolvedLogDestination: LogDestination | undefined;
  private state: ManagerState = 'idle';
  private startedAt: number | null = null;
  private lastValidation: ValidationSummary | null = null;
  private startAbort: AbortController | undefined;
  private starting: Promise<StartReport> | undefined;
  private teardownPromise: Promise<StopReport> | undefined;
  private reloading: Promise<unknown> = Promise.resolve();
  private readonly exitHandler = () => this.stopSync();

  constructor(options: AsyncSystemManagerOptions = {}) {
    const config =
      typeof options.config === 'string'
        ? loadConfig(options.config)
        : options.config === undefined
          ? loadConfig()
          : parseConfig(options.config, 'config object');
    super(config, options.env ?? process.env);
    this.currentConfig = config;
    this.log = options.logger ?? createLogger();
    this.sessionDir = options.sessionDir;
    this.env = options.env ?? process.env;
    this.onServiceFailed = options.onServiceFailed;
    this.configFile =
      typeof options.config === 'string' ? options.config : options.config === undefined ? undefined : null;
    this.socketDir = options.controlSocketDir ?? controlSocketDir({ ...process.env, ...this.env });
    this.reloadedPorts = new ReloadedPorts(this.env, this.log);
    const { ports, fallbacks, dynamicRange, session } = config;
    this.boundAtStart = { ports, fallbacks, dynamicRange, session };
    this.storeHealth = new StoreHealth(this.log.child({ component: 'session-store' }));
    this.messages = new ServiceMessages(this.stats, this.log.child({ component: 'ipc' }));
    // Back from an outage: make sure the store has our records again (the lease itself is renewed by the store).
    this.storeHealth.onRecovered(() => {
      if (this.state === 'running')
        this.validateAll().catch((error: unknown) => this.log.error({ err: error }, 'validation failed'));
    });
  }

  /** The validated config in force (replaced by a successful reload). */
  get config(): SystemManagerConfig {
    return this.currentConfig;
  }

  /** This process's session (created on first use, so every cleanup path can reach it). */
  sessionManager(): GlobalSessionManager {
    if (this.session) return this.session;
    // With a Redis URL (config `session.redisUrl` or CORE_SESSION_REDIS_URL) the session is a lease in the fleet's registry.
    const store = createSessionStore(this.currentConfig, this.env, this.log);
    const options: SessionManagerOptions = {
      ...(this.sessionDir === undefined ? {} : { dir: this.sessionDir }),
      ...(store === undefined
        ? { importFrom: earlierSessionDirs(this.sessionDir ?? defaultSessionDir()) }
        : { store }),
    };
    try {
      this.session = getSessionManager(Object.keys(options).length > 0 ? options : undefined);
    } catch (error) {
      void store?.close().catch(() => {});
      throw error;
    }
    this.sessionStore = store;
    this.storeHealth.follow(store);
    return this.session;
  }

  /**
   * Starts everything in that order. On failure (or when
   * `options.signal` aborts), stops what it started, unregisters, and throws:
   * a SystemManagerError carrying the failed service's output tail, or the
   * signal's reason.
   */
  async start(options: StartOptions = {}): Promise<StartReport> {
    if (this.state !== 'idle' && this.state !== 'stopped') {
      throw new SystemManagerError('E_ALREADY_STARTED', `start() called while the manager is ${this.state}`);
    }
    this.state = 'starting';
    this.teardownPromise = undefined;
    this.storeHealth.reopen();
    this.startAbort = new AbortController();
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.startAbort.signal])
      : this.startAbort.signal;
    this.starting = this.runStart(signal, options.onPhase ?? (() => {}));
    try {
      return await this.starting;
    } finally {
      this.starting = undefined;
    }
  }

  private async runStart(signal: AbortSignal, phase: (name: string) => void): Promise<StartReport> {
    const began = Date.now();
    // 1. Session first: from here on, every exit path can find what we own.
    const session = this.sessionManager();
    process.on('exit', this.exitHandler);
    this.log.info({ sessionId: session.sessionId }, 'session ready');
    try {
      // Refused before anything starts: a planted socket path or an unsafe directory.
      const socketPath = this.socketDir === false ? null : socketPathOf(this.socketDir, session.sessionId);
      const socketGroup = configuredSocketGroup(this.currentConfig.control.socketGroup);
      if (this.socketDir !== false && socketPath !== null)
        prepareSocketPlace(this.socketDir, socketPath, socketGroup);
      // 2. Reap what dead sessions left behind (never a live session's).
      phase('reaping stale sessions');
      const reaped = await raceAbort(this.reapStale(signal), signal);
      // 3. Resolve and reserve ports.
      phase('resolving ports');
      const resolution = await raceAbort(this.portRegistry.resolve({ reserve: true }), signal);
      this.log.info({ ports: { ...this.ports }, resolution }, 'ports resolved');
      // 4. Start services, each owned by this session.
      phase('starting services');
      for (const config of this.currentConfig.services) {
        signal.throwIfAborted();
        const service = this.createService(config);
        this.services.push(service);
        await service.launch();
      }
      // 5. Wait for health, with progress.
      phase('waiting for services to become healthy');
      await Promise.all(
        this.services.map((service) => service.awaitHealthy({ signal, onProgress: this.progress(service) })),
      );
      signal.throwIfAborted();
      // 6. Control endpoint on the reserved `control` port.
      const controlPort = (this.ports as Record<string, number>)['control'] as number;
      this.processMetrics ??= createProcessMetrics();
      this.controlServer = await startControlServer(
        { healthy: () => this.healthy(), status: () => this.status(), metrics: () => this.metrics() },
        controlPort,
      );
      if (this.socketDir !== false && socketPath !== null)
        this.controlSocket = await startControlSocket(
          this.socketDir,
          socketPath,
          controlActions({
            services: () => this.services,
            reload: (by) => this.reloadFile(by),
            caches: () => this.cacheCounters(),
            tap: this.tap,
          }),
          this.log.child({ component: 'control-socket' }),
          socketGroup,
        );
      // 7. Supervision and the invariant checks from now on.
      for (const service of this.services) service.supervise();
      this.state = 'running';
      this.validateCadence = new IdleCadence(
        this.currentConfig.intervals.validateMs,
        this.currentConfig.intervals.validateIdleMs,
      );
      this.scheduleValidation(this.validateCadence.reset());
      this.startedAt = Date.now();
      const report: StartReport = {
        sessionId: session.sessionId,
        reaped,
        ports: { ...this.ports },
        services: this.services.map((s) => s.status()),
        controlPort,
        controlSocket: this.controlSocket?.path ?? null,
        elapsedMs: Date.now() - began,
      };
      this.log.info(
        {
          elapsedMs: report.elapsedMs,
          control: `http://127.0.0.1:${controlPort}`,
          services: report.services.length,
        },
        'all services healthy',
      );
      return report;
    } catch (error) {
      if (signal.aborted)
        this.log.warn({ reason: String(signal.reason) }, 'start aborted; stopping what was started');
      else this.log.error({ err: error }, 'start failed; cleaning up what was started');
      await this.teardown({ aborted: signal.aborted });
      throw error;
    }
  }

  private progress(service: SupervisedService): (elapsedMs: number) => void {
    return (elapsed) =>
      this.log.info(
        { service: service.config.name, elapsedMs: elapsed, timeoutMs: service.config.startTimeoutMs },
        `waiting for ${service.config.name} to become healthy (${(elapsed / 1000).toFixed(1)} s)`,
      );
  }

  /** Stops its own services, cleans up its other resources, unregisters the session. Idempotent; during `start`, aborts it first. */
  async stop(): Promise<StopReport> {
    if (this.state === 'idle') return { stoppedServices: [], cleanup: [] };
    if (this.starting) {
      this.startAbort?.abort(new SystemManagerError('E_ABORTED', 'stop() called during start'));
      await this.starting.catch(() => {});
    }
    return this.teardown();
  }

  private teardown(options: { aborted?: boolean } = {}): Promise<StopReport> {
    this.teardownPromise ??= this.runTeardown(options.aborted === true);
    return this.teardownPromise;
  }

  /** `aborted`: a signal cut the start short; slow cleanup commands (VMs) are then left registered for the next cleanup instead of holding up the exit. */
  private async runTeardown(aborted: boolean): Promise<StopReport> {
    this.state = 'stopping';
    clearTimeout(this.validateTimer);
    const socket = this.controlSocket;
    this.controlSocket = undefined;
    await socket?.close();
    const control = this.controlServer;
    this.controlServer = undefined;
    if (control) {
      control.closeAllConnections();
      await new Promise((resolve) => control.close(resolve));
    }
    this.processMetrics?.stop();
    this.processMetrics = undefined;
    const graceMs = this.currentConfig.shutdown.graceMs;
    const running = this.services.filter((s) => s.isRunning).map((s) => s.config.name);
    await Promise.all(this.services.map((s) => s.stop(graceMs)));
    const cleanup = this.session
      ? await releaseSession(this.session, this.storeHealth, this.currentConfig.cleanup, {
          graceMs,
          log: this.log,
          aborted,
        })
      : [];
    // The Redis connection would keep the process alive; a session left registered above keeps its
    // record, and its lease expires so that another manager's cleanup retries.
    this.storeHealth.close();
    await this.sessionStore
      ?.close()
      .catch((error: unknown) => this.log.warn({ err: error }, 'closing the session store failed'));
    process.off('exit', this.exitHandler);
    this.state = 'stopped';
    this.log.info({ services: running }, 'stopped');
    return { stoppedServices: running, cleanup };
  }

  /**
   * The synchronous last resort for `process.on('exit')` (a second signal, an
   * uncaught error): SIGTERM our services, wait for them synchronously (a
   * bounded `Atomics.wait`: nothing asynchronous runs in an exit handler),
   * SIGKILL what is left, then unregister. No service outlives its record.
   */
  stopSync(): void {
    if (this.state === 'stopped' || this.state === 'idle') return;
    const signalled = this.services.map((s) => s.process).filter((p) => p?.killSync() === true);
    const deadline = Date.now() + Math.min(this.currentConfig.shutdown.graceMs, EXIT_GRACE_MS);
    while (signalled.some((p) => !p?.isGoneSync()) && Date.now() < deadline) sleepSync(10);
    for (const proc of signalled) proc?.forceKillSync();
    try {
      this.session?.unregisterSessionSync();
    } catch {
      // Nothing else can be done inside an exit handler; the session is reaped as stale later.
    }
    this.state = 'stopped';
  }

  /**
   * Applies a new config to the running services, like `pm2 reload`: services
   * whose definition changed are restarted one at a time (each health-checked
   * before the next), removed ones stopped, new ones started; unchanged ones
   * are not touched. Settings that need a restart of the manager (ports,
   * session store) are reported, not applied.
   * @throws SystemManagerError E_CONFIG_INVALID when a service names an unknown port (nothing is changed then).
   */
  reload(next: SystemManagerConfig): Promise<ReloadReport> {
    const run = this.reloading.then(() => this.runReload(next));
    this.reloading = run.catch(() => {});
    return run;
  }

  /**
   * Reloads the config file in force (the `reload` command; SIGHUP does the same).
   * @throws ConfigError when the file is unreadable or invalid (nothing is changed then).
   */
  async reloadFile(by?: { readonly user: string }): Promise<ReloadReport> {
    if (this.configFile === null)
      throw new SystemManagerError(
        'E_USAGE',
        'this manager was given a config object, not a file: nothing to reload',
      );
    this.log.info({ config: this.configFile ?? '(discovered)', by }, 'reloading the config');
    return this.reload(loadConfig(this.configFile));
  }

  private async runReload(next: SystemManagerConfig): Promise<ReloadReport> {
    if (this.state !== 'running') {
      throw new SystemManagerError(
        'E_ALREADY_STARTED',
        `reload needs a running manager (it is ${this.state})`,
      );
    }
    // New port names first: a service naming one can only start once it is reserved.
    const portsAdded = await this.reloadedPorts.add({ ...this.ports }, next);
    const report = await reloadServices({
      current: { ...this.currentConfig, ...this.boundAtStart },
      next,
      services: this.services,
      ports: this.portMap(),
      create: (config) => this.createService(config),
      forget: (service) => forgetProcess(this.session, this.storeHealth, service),
      setServices: (services) => {
        this.services = services;
      },
      progress: (service) => this.progress(service),
      stopping: () => this.state !== 'running',
      log: this.log,
    });
    const portsReleased = await this.reloadedPorts.releaseUnnamed(next, this.session);
    // Bound at start (reserved ports, the connected store): kept until the next start; new port names join.
    const { ports, fallbacks, dynamicRange, session } = this.boundAtStart;
    this.currentConfig = {
      ...next,
      ports: { ...next.ports, ...ports },
      fallbacks: { ...next.fallbacks, ...fallbacks },
      dynamicRange,
      session,
    };
    return { ...report, portsAdded, portsReleased };
  }

  /** Every port in use: those resolved at start and those a reload added. */
  private portMap(): Record<string, number> {
    return { ...(this.ports as Record<string, number>), ...this.reloadedPorts.ports };
  }

  /** Whether every service is healthy. */
  healthy(): boolean {
    return this.services.length > 0
      ? this.services.every((s) => s.currentState === 'healthy')
      : this.state === 'running';
  }

  /** A JSON-friendly snapshot: session, ports, aliases, services, store health, last invariant check. */
  status(): ManagerStatus {
    const aliases = this.aliasValues();
    return {
      state: this.state,
      sessionId: this.session?.sessionId ?? null,
      pid: process.pid,
      hostname: os.hostname(),
      startedAt: this.startedAt,
      uptimeSeconds: this.startedAt === null ? 0 : (Date.now() - this.startedAt) / 1000,
      ports: this.portMap(),
      aliases,
      services: this.services.map((s) => s.status()),
      lastValidation: this.lastValidation,
      sessionStore: sessionStoreStatusOf(this.sessionStore, this.session),
      store: this.storeHealth.status(),
    };
  }

  /** Cache hits and misses each service reported, by service name (for the control socket's `overview`). */
  private cacheCounters(): Record<string, { hits: number; misses: number }> {
    const counters: Record<string, { hits: number; misses: number }> = {};
    for (const name of this.stats.names()) {
      const tracker = this.stats.get(name);
      if (tracker) counters[name] = { hits: tracker.cacheHits, misses: tracker.cacheMisses };
    }
    return counters;
  }

  /**
   * What `GET /metrics` serves (Prometheus text 0.0.4): the services' cache
   * statistics, then the app's own families (services up, restarts,
   * health-check failures, bad messages; session store state), then process
   * metrics while the control endpoint runs.
   */
  metrics(): string {
    return (
      this.stats.metrics() + renderAppMetrics(this.appMetricsInput()) + (this.processMetrics?.render() ?? '')
    );
  }

  /** Real counts for the app's `/metrics` (services up, restarts, health-check failures, bad messages; store health). */
  appMetricsInput(): AppMetricsInput {
    return appMetricsFrom(this.services, this.sessionStore, this.storeHealth, {
      cleanups: this.reapTally.cleanups(),
      adopted: adoptedByKind(this.session?.getMyResourcesSync() ?? []),
    });
  }

  /** Where the services' output goes: resolved from `logs` and the environment once, then fixed (a reload keeps it). */
  private logDestination(): LogDestination {
    if (this.resolvedLogDestination) return this.resolvedLogDestination;
    const destination = resolveLogDestination(this.currentConfig.logs, this.env);
    this.resolvedLogDestination = destination;
    if (destination.kind === 'file' && destination.writer !== null)
      this.log.info(
        { dir: destination.dir, writer: destination.writer.path },
        `service output: ${destination.dir}/<service>/{stdout,stderr}/current, written by ${destination.writer.name} (a process per stream: the bytes do not pass through this manager)`,
      );
    else if (destination.kind === 'file')
      this.log.warn(
        { dir: destination.dir, writer: 'manager' },
        `service output: ${destination.dir}/<service>.log, written by this manager: s6-log is not on PATH (${LOG_WRITER_INSTALL_HINT}), so every byte passes through this process`,
      );
    else if (destination.kind === 'journald')
      this.log.info({ socket: destination.socket }, 'service output: the journal (journalctl -t <service>)');
    else this.log.info("service output: this manager's log");
    return destination;
  }

  /** The next invariant check in `delayMs`: sooner after one that healed something, later while all stays consistent. */
  private scheduleValidation(delayMs: number): void {
    clearTimeout(this.validateTimer);
    this.validateTimer = setTimeout(() => {
      this.validateAll()
        .then(
          // A store that is down is not "all well": keep checking at the base interval until it is back.
          (summary) => summary.consistent && this.storeHealth.status().up,
          (error: unknown) => {
            this.log.error({ err: error }, 'validation failed');
            return false;
          },
        )
        .then((consistent) => {
          if (this.state === 'running' && this.validateCadence)
            this.scheduleValidation(this.validateCadence.next(consistent));
        });
    }, delayMs);
    this.validateTimer.unref();
  }

  /** Runs every invariant (stats, ports, session ownership) with healing, and logs any heal. Never throws. */
  async validateAll(): Promise<ValidationSummary> {
    const summary = await validateInvariants({
      stats: this.stats,
      ports: this.portRegistry,
      session: this.state === 'running' ? this.session : undefined,
      services: this.services,
      store: this.storeHealth,
      log: this.log,
    });
    this.lastValidation = summary;
    return summary;
  }

  private async reapStale(signal: AbortSignal): Promise<CleanupAction[]> {
    // `signal` is honoured by reapers that accept it; the phase itself is raced against it by the caller.
    const options = { graceMs: this.currentConfig.shutdown.graceMs, log: this.log, signal };
    const reaped = await this.storeHealth.attempt('reap stale sessions', () =>
      reapAndCleanUp(this.sessionManager(), this.currentConfig.cleanup, options),
    );
    if (!reaped.ok) return [];
    this.reapTally.add(reaped.value.actions);
    return [...reaped.value.actions];
  }

  private createService(config: SystemManagerConfig['services'][number]): SupervisedService {
    const portMap = this.portMap();
    const port = portMap[config.port];
    if (port === undefined) {
      throw new ConfigError(
        'E_CONFIG_INVALID',
        `services.${config.name}.port: no port named "${config.port}" (known: ${Object.keys(portMap).join(', ')})`,
      );
    }
    return new SupervisedService(
      config,
      port,
      {
        ...servicePortEnv(portMap),
        PORT: String(port),
        SERVICE_NAME: config.name,
        // Read back from /proc/<pid>/environ by a reaper before it signals the process.
        [SESSION_ID_ENV]: this.sessionManager().sessionId,
      },
      {
        logs: this.currentConfig.logs,
        intervals: this.currentConfig.intervals,
        graceMs: this.currentConfig.shutdown.graceMs,
        logDestination: this.logDestination(),
        tap: this.tap,
      },
      this.log.child({ component: 'service', service: config.name }),
      {
        onSpawned: (service, replaced) => registerProcess(this.session, this.storeHealth, service, replaced),
        onMessage: (service, message) => this.messages.handle(service, message),
        onHeld: (service) => forgetProcess(this.session, this.storeHealth, service),
        onFailed: (service, reason) => {
          try {
            this.onServiceFailed?.(service.config.name, reason);
          } catch (error) {
            this.log.error({ err: error }, 'onServiceFailed handler failed');
          }
        },
      },
    );
  }
}
