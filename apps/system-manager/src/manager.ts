import type http from 'node:http';
import os from 'node:os';
import { createPortRegistry, DEFAULT_ALIASES, DEFAULT_PORTS } from '@core/ports';
import { type GlobalSessionManager, getSessionManager, type SessionManagerOptions } from '@core/session';
import type { RedisRegistryStore } from '@core/session-redis';
import { StatsRegistry } from '@core/stats';
import {
  loadConfig,
  parseConfig,
  type SystemManagerConfig,
  type SystemManagerConfigInput,
} from './config.js';
import { startControlServer } from './control.js';
import { SystemManagerError } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { type CleanupAction, cleanupResource, reapAndCleanUp } from './reaper.js';
import { createSessionStore } from './session-store.js';
import type {
  AppMetricsInput,
  ManagerState,
  ManagerStatus,
  SessionStoreStatus,
  ValidationSummary,
} from './status.js';
import { StoreHealth } from './store-health.js';
import { ServiceMessages } from './supervisor/messages.js';
import { type ReloadReport, reloadServices } from './supervisor/reload.js';
import { type ProcessIdentity, type ServiceStatus, SupervisedService } from './supervisor/service.js';
import { serviceResource, serviceResourceId, validateInvariants } from './validation.js';

export type { ManagerStatus, SessionStoreStatus, ValidationSummary } from './status.js';

/** How long the synchronous exit path waits for services after SIGTERM before SIGKILL. */
const EXIT_GRACE_MS = 1_500;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** Default port of the control endpoint (GET /health, /status, /metrics). */
export const DEFAULT_CONTROL_PORT = 8099;
/** Prefix of the env vars that override a named port, e.g. `SYSTEM_MANAGER_PORT_MAIN_API=9000`. */
export const PORT_ENV_PREFIX = 'SYSTEM_MANAGER_PORT_';

/** Options of {@link AsyncSystemManager}. */
export interface AsyncSystemManagerOptions {
  /** A config object, or the path of a JSON config file. Default: the built-in config. */
  readonly config?: SystemManagerConfigInput | string | undefined;
  /** Environment read for port overrides and `CORE_SESSION_REDIS_URL` (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Logger (default: pino to stderr). */
  readonly logger?: Logger | undefined;
  /** Session directory (default: `CORE_SESSION_DIR` or the per-user temp folder). */
  readonly sessionDir?: string | undefined;
  /** Called when a service exhausted its restarts (`failed`); the `start` command exits non-zero on it when configured. */
  readonly onServiceFailed?: ((service: string, reason: string) => void) | undefined;
}

/** Options of {@link AsyncSystemManager.start}. */
export interface StartOptions {
  /** Aborts whichever start phase is running (reaping, ports, spawning, health waits) at once; `start` then stops what it started and rejects. */
  readonly signal?: AbortSignal | undefined;
  /** Called as each start phase begins (e.g. for systemd's STATUS=). */
  readonly onPhase?: ((phase: string) => void) | undefined;
}

/** What `start()` did. */
export interface StartReport {
  readonly sessionId: string;
  readonly reaped: readonly CleanupAction[];
  readonly ports: Readonly<Record<string, number>>;
  readonly services: readonly ServiceStatus[];
  readonly controlPort: number;
  readonly elapsedMs: number;
}

/** What `stop()` did. */
export interface StopReport {
  readonly stoppedServices: readonly string[];
  readonly cleanup: readonly CleanupAction[];
}

export type { ReloadReport } from './supervisor/reload.js';

function buildPortRegistry(config: SystemManagerConfig, env: NodeJS.ProcessEnv) {
  return createPortRegistry(
    { ...DEFAULT_PORTS, control: DEFAULT_CONTROL_PORT, ...config.ports },
    {
      env,
      envPrefix: PORT_ENV_PREFIX,
      aliases: DEFAULT_ALIASES,
      fallbacks: config.fallbacks,
      dynamicRange: config.dynamicRange,
      host: '127.0.0.1',
    },
  );
}

type PortRegistryOf = ReturnType<typeof buildPortRegistry>;

/** Rejects with the signal's reason as soon as it aborts; the work itself is left to finish (or notice the signal). */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * The boot orchestrator, as the original `AsyncSystemManager`: session first,
 * reap what dead sessions left, resolve and reserve ports, start services,
 * wait for health, serve the control endpoint, validate invariants — and from
 * then on supervise: restart services by policy, forward their logs, survive
 * bad messages and store outages, reload on request.
 *
 * Construction reads config and env only; nothing starts until `start()`.
 */
export class AsyncSystemManager {
  /** Per-service cache statistics reported by the services, served at GET /metrics. */
  readonly stats = new StatsRegistry();
  /** The named-port registry (live aliases, discovery, reservation). */
  readonly portRegistry: PortRegistryOf;
  private currentConfig: SystemManagerConfig;
  private readonly log: Logger;
  private readonly sessionDir: string | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private readonly onServiceFailed: AsyncSystemManagerOptions['onServiceFailed'];
  private readonly storeHealth: StoreHealth;
  private readonly messages: ServiceMessages;
  private session: GlobalSessionManager | undefined;
  private sessionStore: RedisRegistryStore | undefined;
  private services: SupervisedService[] = [];
  private controlServer: http.Server | undefined;
  private validateTimer: NodeJS.Timeout | undefined;
  private state: ManagerState = 'idle';
  private startedAt: number | null = null;
  private lastValidation: ValidationSummary | null = null;
  private startAbort: AbortController | undefined;
  private starting: Promise<StartReport> | undefined;
  private teardownPromise: Promise<StopReport> | undefined;
  private reloading: Promise<unknown> = Promise.resolve();
  private readonly exitHandler = () => this.stopSync();

  constructor(options: AsyncSystemManagerOptions = {}) {
    this.currentConfig =
      typeof options.config === 'string'
        ? loadConfig(options.config)
        : options.config === undefined
          ? loadConfig()
          : parseConfig(options.config, 'config object');
    this.log = options.logger ?? createLogger();
    this.sessionDir = options.sessionDir;
    this.env = options.env ?? process.env;
    this.onServiceFailed = options.onServiceFailed;
    this.portRegistry = buildPortRegistry(this.currentConfig, this.env);
    this.storeHealth = new StoreHealth(this.log.child({ component: 'session-store' }));
    this.messages = new ServiceMessages(this.stats, this.log.child({ component: 'ipc' }));
    // Back from an outage: make sure the store has our records again (the lease itself is renewed by the store).
    this.storeHealth.onRecovered(() => {
      if (this.state === 'running') void this.validateAll();
    });
  }

  /** The validated config in force (replaced by a successful reload). */
  get config(): SystemManagerConfig {
    return this.currentConfig;
  }

  /** The live port record: `m.ports.main_api` always equals `m.backendPort`. */
  get ports(): PortRegistryOf['ports'] {
    return this.portRegistry.ports;
  }

  /** Live alias of `ports.main_api`. */
  get backendPort(): number {
    return this.portRegistry.backendPort;
  }
  set backendPort(port: number) {
    this.portRegistry.backendPort = port;
  }
  /** Live alias of `ports.frontend`. */
  get frontendPort(): number {
    return this.portRegistry.frontendPort;
  }
  set frontendPort(port: number) {
    this.portRegistry.frontendPort = port;
  }
  /** Live alias of `ports.websocket_router`. */
  get websocketPort(): number {
    return this.portRegistry.websocketPort;
  }
  set websocketPort(port: number) {
    this.portRegistry.websocketPort = port;
  }
  /** @deprecated Use `backendPort`. */
  get backend_port(): number {
    return this.portRegistry.backendPort;
  }
  set backend_port(port: number) {
    this.portRegistry.backendPort = port;
  }
  /** @deprecated Use `frontendPort`. */
  get frontend_port(): number {
    return this.portRegistry.frontendPort;
  }
  set frontend_port(port: number) {
    this.portRegistry.frontendPort = port;
  }
  /** @deprecated Use `websocketPort`. */
  get websocket_port(): number {
    return this.portRegistry.websocketPort;
  }
  set websocket_port(port: number) {
    this.portRegistry.websocketPort = port;
  }

  /** This process's session (created on first use, so every cleanup path can reach it). */
  sessionManager(): GlobalSessionManager {
    if (this.session) return this.session;
    // With a Redis URL (config `session.redisUrl` or CORE_SESSION_REDIS_URL) the session is a lease in the fleet's registry.
    const store = createSessionStore(this.currentConfig, this.env, this.log);
    const options: SessionManagerOptions = {
      ...(this.sessionDir === undefined ? {} : { dir: this.sessionDir }),
      ...(store === undefined ? {} : { store }),
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
   * Starts everything, in the original's order. On failure (or when
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
      this.controlServer = await startControlServer(
        { healthy: () => this.healthy(), status: () => this.status(), metrics: () => this.stats.metrics() },
        controlPort,
      );
      // 7. Invariants on an interval; supervision from now on.
      this.validateTimer = setInterval(
        () => void this.validateAll(),
        this.currentConfig.intervals.validateMs,
      );
      this.validateTimer.unref();
      for (const service of this.services) service.supervise();
      this.state = 'running';
      this.startedAt = Date.now();
      const report: StartReport = {
        sessionId: session.sessionId,
        reaped,
        ports: { ...this.ports },
        services: this.services.map((s) => s.status()),
        controlPort,
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
    clearInterval(this.validateTimer);
    const control = this.controlServer;
    this.controlServer = undefined;
    if (control) {
      control.closeAllConnections();
      await new Promise((resolve) => control.close(resolve));
    }
    const graceMs = this.currentConfig.shutdown.graceMs;
    const running = this.services.filter((s) => s.isRunning).map((s) => s.config.name);
    await Promise.all(this.services.map((s) => s.stop(graceMs)));
    const session = this.session;
    const cleanup: CleanupAction[] = [];
    if (session) {
      const mine = await this.storeHealth.attempt('read own resources', () => session.getMyResources());
      // Our own processes were stopped above; what remains (VMs…) gets its cleanup command.
      const remaining = (mine.ok ? mine.value : []).filter((r) => r.kind !== 'process' && r.kind !== 'port');
      if (!aborted)
        for (const resource of remaining)
          cleanup.push(
            await cleanupResource(resource, this.currentConfig.cleanup, { graceMs, log: this.log }),
          );
      const failed = cleanup.filter((a) => a.outcome === 'failed');
      if (aborted && remaining.length > 0)
        this.log.warn(
          { resources: remaining.map((r) => `${r.kind}:${r.id}`) },
          'start aborted: resources left registered; the next cleanup retries them',
        );
      else if (!mine.ok)
        this.log.error(
          'the session store is unavailable: the session stays registered and is reaped as stale later',
        );
      else if (failed.length === 0)
        await this.storeHealth.attempt('unregister session', () => session.unregisterSession());
      else
        this.log.error(
          { failed },
          'some resources could not be cleaned up; the session stays registered so a later cleanup retries',
        );
    }
    // The Redis connection would keep the process alive; a session left registered above keeps its
    // record, and its lease expires so that another manager's cleanup retries.
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

  private async runReload(next: SystemManagerConfig): Promise<ReloadReport> {
    if (this.state !== 'running') {
      throw new SystemManagerError(
        'E_ALREADY_STARTED',
        `reload needs a running manager (it is ${this.state})`,
      );
    }
    const report = await reloadServices({
      current: this.currentConfig,
      next,
      services: this.services,
      ports: { ...this.ports } as Record<string, number>,
      create: (config) => this.createService(config),
      forget: (service) => this.forgetService(service),
      setServices: (services) => {
        this.services = services;
      },
      progress: (service) => this.progress(service),
      log: this.log,
    });
    this.currentConfig = {
      ...next,
      ports: this.currentConfig.ports,
      fallbacks: this.currentConfig.fallbacks,
    };
    return report;
  }

  /** Whether every service is healthy. */
  healthy(): boolean {
    return this.services.length > 0
      ? this.services.every((s) => s.currentState === 'healthy')
      : this.state === 'running';
  }

  /** A JSON-friendly snapshot: session, ports, aliases, services, store health, last invariant check. */
  status(): ManagerStatus {
    const aliases: Record<string, number> = {};
    for (const alias of Object.keys(DEFAULT_ALIASES)) {
      aliases[alias] = (this.portRegistry as unknown as Record<string, number>)[alias] as number;
    }
    return {
      state: this.state,
      sessionId: this.session?.sessionId ?? null,
      pid: process.pid,
      hostname: os.hostname(),
      startedAt: this.startedAt,
      uptimeSeconds: this.startedAt === null ? 0 : (Date.now() - this.startedAt) / 1000,
      ports: { ...this.ports },
      aliases,
      services: this.services.map((s) => s.status()),
      lastValidation: this.lastValidation,
      sessionStore: this.sessionStoreStatus(),
      store: this.storeHealth.status(),
    };
  }

  /** Real counts for the app's `/metrics` (services up, restarts, health-check failures, bad messages; store health). */
  appMetricsInput(): AppMetricsInput {
    const store = this.sessionStore;
    const counters = this.storeHealth.counters();
    return {
      services: this.services.map((s) => {
        const status = s.status();
        return {
          name: status.name,
          up: status.state === 'healthy',
          restarts: status.restarts,
          healthCheckFailures: status.healthCheckFailures,
          badMessages: status.badMessages,
        };
      }),
      store: {
        kind: store ? 'redis' : 'file',
        up: this.storeHealth.status().up,
        leaseRenewals: store?.leaseRenewals.length ?? 0,
        leaseFailures: counters.failures,
        outages: counters.outages,
      },
    };
  }

  private sessionStoreStatus(): SessionStoreStatus {
    const store = this.sessionStore;
    if (!store) return { kind: 'file', location: this.session?.registryFile ?? null };
    return {
      kind: 'redis',
      location: store.location,
      connected: store.connected,
      leaseId: store.leaseId,
      leaseTtlMs: store.leaseTtlMs,
      leaseRenewals: store.leaseRenewals,
    };
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
    return reaped.ok ? [...reaped.value.actions] : [];
  }

  private createService(config: SystemManagerConfig['services'][number]): SupervisedService {
    const portMap = { ...this.ports } as Record<string, number>;
    const port = portMap[config.port];
    if (port === undefined) {
      throw new SystemManagerError(
        'E_CONFIG_INVALID',
        `services.${config.name}.port: no port named "${config.port}" (known: ${Object.keys(portMap).join(', ')})`,
      );
    }
    const env: Record<string, string> = { CORE_PORTS: JSON.stringify(portMap) };
    for (const [name, value] of Object.entries(portMap))
      env[`${PORT_ENV_PREFIX}${name.toUpperCase()}`] = String(value);
    return new SupervisedService(
      config,
      port,
      { ...env, PORT: String(port), SERVICE_NAME: config.name },
      {
        logs: this.currentConfig.logs,
        intervals: this.currentConfig.intervals,
        graceMs: this.currentConfig.shutdown.graceMs,
      },
      this.log.child({ component: 'service', service: config.name }),
      {
        onSpawned: (service, replaced) => this.registerProcess(service, replaced),
        onMessage: (service, message) => this.messages.handle(service, message),
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

  /** Registers a service's new process in the session, then drops the record of the one it replaced (never the other way round). */
  private async registerProcess(service: SupervisedService, replaced: ProcessIdentity | null): Promise<void> {
    const session = this.session;
    const resource = serviceResource(service);
    if (!session || !resource) return;
    await this.storeHealth.attempt('register service', () => session.registerResource(resource));
    if (replaced) {
      const id = serviceResourceId(service.config.name, replaced.pid);
      await this.storeHealth.attempt('unregister replaced process', () =>
        session.unregisterResource('process', id),
      );
    }
  }

  private async forgetService(service: SupervisedService): Promise<void> {
    const session = this.session;
    const identity = service.process;
    if (!session || identity?.pid == null) return;
    const id = serviceResourceId(service.config.name, identity.pid);
    await this.storeHealth.attempt('unregister stopped service', () =>
      session.unregisterResource('process', id),
    );
  }
}
