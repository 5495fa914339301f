import type http from 'node:http';
import os from 'node:os';
import { createPortRegistry, DEFAULT_ALIASES, DEFAULT_PORTS } from '@core/ports';
import { type GlobalSessionManager, getSessionManager, type SessionManagerOptions } from '@core/session';
import type { LeaseRenewal, RedisRegistryStore } from '@core/session-redis';
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
import type { ServiceMessage } from './protocol.js';
import { type CleanupAction, cleanupResource, reapAndCleanUp } from './reaper.js';
import { ManagedService, type ServiceStatus } from './services.js';
import { createSessionStore } from './session-store.js';
import { currentTerminal } from './terminal.js';

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
}

/** What `status()` returns and `GET /status` serves. */
export interface ManagerStatus {
  readonly state: 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';
  readonly sessionId: string | null;
  readonly pid: number;
  readonly hostname: string;
  readonly startedAt: number | null;
  readonly uptimeSeconds: number;
  readonly ports: Readonly<Record<string, number>>;
  readonly aliases: Readonly<Record<string, number>>;
  readonly services: readonly ServiceStatus[];
  readonly lastValidation: ValidationSummary | null;
  /** Where the session is registered: this machine's file registry, or the fleet's Redis registry with this session's lease. */
  readonly sessionStore: SessionStoreStatus;
}

/** The session registry in use, as `status()` reports it. */
export type SessionStoreStatus =
  | { readonly kind: 'file'; readonly location: string | null }
  | {
      readonly kind: 'redis';
      readonly location: string;
      readonly connected: boolean;
      /** This session's lease (null while it owns nothing). */
      readonly leaseId: string | null;
      readonly leaseTtlMs: number;
      /** Times the lease had expired (e.g. a Redis outage longer than the TTL) and the session was re-registered. */
      readonly leaseRenewals: readonly LeaseRenewal[];
    };

/** Summary of one periodic invariant check. */
export interface ValidationSummary {
  readonly at: number;
  readonly consistent: boolean;
  readonly healed: readonly string[];
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

/**
 * The boot orchestrator, as the original `AsyncSystemManager`: session first,
 * reap what dead sessions left, resolve and reserve ports, start services,
 * wait for health, serve the control endpoint, validate invariants.
 *
 * Construction reads config and env only; nothing starts until `start()`.
 */
export class AsyncSystemManager {
  /** The validated config in force. */
  readonly config: SystemManagerConfig;
  /** Per-service cache statistics reported by the services, served at GET /metrics. */
  readonly stats = new StatsRegistry();
  /** The named-port registry (live aliases, discovery, reservation). */
  readonly portRegistry: PortRegistryOf;
  private readonly log: Logger;
  private readonly sessionDir: string | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private session: GlobalSessionManager | undefined;
  private sessionStore: RedisRegistryStore | undefined;
  private services: ManagedService[] = [];
  private controlServer: http.Server | undefined;
  private validateTimer: NodeJS.Timeout | undefined;
  private state: ManagerStatus['state'] = 'idle';
  private startedAt: number | null = null;
  private lastValidation: ValidationSummary | null = null;
  private readonly exitHandler = () => this.stopSync();

  constructor(options: AsyncSystemManagerOptions = {}) {
    this.config =
      typeof options.config === 'string'
        ? loadConfig(options.config)
        : options.config === undefined
          ? loadConfig()
          : parseConfig(options.config, 'config object');
    this.log = options.logger ?? createLogger();
    this.sessionDir = options.sessionDir;
    this.env = options.env ?? process.env;
    this.portRegistry = buildPortRegistry(this.config, this.env);
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
    const store = createSessionStore(this.config, this.env, this.log);
    const options: SessionManagerOptions = {
      ...(this.sessionDir === undefined ? {} : { dir: this.sessionDir }),
      ...(store === undefined ? {} : { store }),
    };
    try {
      this.session = getSessionManager(Object.keys(options).length > 0 ? options : undefined);
    } catch (error) {
      void store?.close();
      throw error;
    }
    this.sessionStore = store;
    return this.session;
  }

  /**
   * Starts everything, in the original's order. On failure, stops what it
   * started, unregisters, and throws a SystemManagerError carrying the failed
   * service's output tail.
   */
  async start(): Promise<StartReport> {
    if (this.state !== 'idle' && this.state !== 'stopped') {
      throw new SystemManagerError('E_ALREADY_STARTED', `start() called while the manager is ${this.state}`);
    }
    const began = Date.now();
    this.state = 'starting';
    // 1. Session first: from here on, every exit path can find what we own.
    const session = this.sessionManager();
    process.on('exit', this.exitHandler);
    this.log.info({ sessionId: session.sessionId }, 'session ready');
    try {
      // 2. Reap what dead sessions left behind (never a live session's).
      const reaped = await this.reapStale();
      // 3. Resolve and reserve ports.
      const resolution = await this.portRegistry.resolve({ reserve: true });
      this.log.info({ ports: { ...this.ports }, resolution }, 'ports resolved');
      // 4. Start services, each owned by this session.
      await this.startServices(session);
      // 5. Wait for health, with progress.
      await Promise.all(
        this.services.map((service) =>
          service.waitHealthy({
            pollMs: this.config.intervals.healthPollMs,
            onProgress: (elapsed) =>
              this.log.info(
                {
                  service: service.config.name,
                  elapsedMs: elapsed,
                  timeoutMs: service.config.startTimeoutMs,
                },
                `waiting for ${service.config.name} to become healthy (${(elapsed / 1000).toFixed(1)} s)`,
              ),
          }),
        ),
      );
      // 6. Control endpoint on the reserved `control` port.
      const controlPort = (this.ports as Record<string, number>)['control'] as number;
      this.controlServer = await startControlServer(
        { healthy: () => this.healthy(), status: () => this.status(), metrics: () => this.stats.metrics() },
        controlPort,
      );
      // 7. Invariants on an interval.
      this.validateTimer = setInterval(() => void this.validateAll(), this.config.intervals.validateMs);
      this.validateTimer.unref();
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
      this.log.error({ err: error }, 'start failed; cleaning up what was started');
      await this.stop();
      throw error;
    }
  }

  /** Stops its own services, cleans up its other resources, unregisters the session. Idempotent. */
  async stop(): Promise<StopReport> {
    if (this.state === 'stopped' || this.state === 'idle' || this.state === 'stopping') {
      return { stoppedServices: [], cleanup: [] };
    }
    this.state = 'stopping';
    if (this.validateTimer) clearInterval(this.validateTimer);
    const control = this.controlServer;
    this.controlServer = undefined;
    if (control) {
      control.closeAllConnections();
      await new Promise((resolve) => control.close(resolve));
    }
    const graceMs = this.config.shutdown.graceMs;
    const running = this.services.filter((s) => s.isRunning);
    await Promise.all(running.map((s) => s.stop(graceMs)));
    const session = this.session;
    const cleanup: CleanupAction[] = [];
    if (session) {
      const mine = await session.getMyResources();
      for (const resource of mine) {
        // Our own processes were stopped above; what remains (VMs…) gets its cleanup command.
        if (resource.kind === 'process' || resource.kind === 'port') continue;
        cleanup.push(await cleanupResource(resource, this.config.cleanup, { graceMs, log: this.log }));
      }
      const failed = cleanup.filter((a) => a.outcome === 'failed');
      if (failed.length === 0) await session.unregisterSession();
      else
        this.log.error(
          { failed },
          'some resources could not be cleaned up; the session stays registered so a later cleanup retries',
        );
    }
    // The Redis connection would keep the process alive; a session left registered above keeps its
    // record, and its lease expires so that another manager's cleanup retries.
    await this.sessionStore?.close();
    process.off('exit', this.exitHandler);
    this.state = 'stopped';
    this.log.info({ services: running.map((s) => s.config.name) }, 'stopped');
    return { stoppedServices: running.map((s) => s.config.name), cleanup };
  }

  /**
   * The synchronous last resort for `process.on('exit')` (a second signal, an
   * uncaught error): SIGTERM our services, wait for them synchronously (a
   * bounded `Atomics.wait`: nothing asynchronous runs in an exit handler),
   * SIGKILL what is left, then unregister. No service outlives its record.
   */
  stopSync(): void {
    if (this.state === 'stopped' || this.state === 'idle') return;
    const signalled = this.services.filter((s) => s.killSync());
    const deadline = Date.now() + Math.min(this.config.shutdown.graceMs, EXIT_GRACE_MS);
    while (signalled.some((s) => !s.isGoneSync()) && Date.now() < deadline) sleepSync(10);
    for (const service of signalled) service.forceKillSync();
    try {
      this.session?.unregisterSessionSync();
    } catch {
      // Nothing else can be done inside an exit handler; the session is reaped as stale later.
    }
    this.state = 'stopped';
  }

  /** Whether every service is healthy. */
  healthy(): boolean {
    return this.services.length > 0
      ? this.services.every((s) => s.status().state === 'healthy')
      : this.state === 'running';
  }

  /** A JSON-friendly snapshot: session, ports, aliases, services, last invariant check. */
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

  /** Runs every invariant (stats, ports, session ownership) with healing, and logs any heal. */
  async validateAll(): Promise<ValidationSummary> {
    const healed: string[] = [];
    let consistent = true;
    for (const [name, result] of Object.entries(await this.stats.validateAll({ autoHeal: true }))) {
      if (!result.consistent) consistent = false;
      for (const change of result.healed) healed.push(`stats[${name}] ${String(change)}`);
    }
    const ports = this.portRegistry.validate({ autoHeal: true });
    if (!ports.consistent) consistent = false;
    for (const change of ports.healed) healed.push(`ports ${String(change)}`);
    healed.push(...(await this.healSessionOwnership()));
    if (healed.length > 0) consistent = false;
    const summary = { at: Date.now(), consistent, healed };
    this.lastValidation = summary;
    if (!consistent) this.log.warn({ healed }, 'invariants healed');
    return summary;
  }

  private async healSessionOwnership(): Promise<string[]> {
    // Invariant: every running service is registered as a resource of this session.
    const session = this.session;
    if (!session || this.state !== 'running') return [];
    // The age limit of sessions counts from the last heartbeat: a manager up
    // for days must not look "too old" to another terminal's cleanup.
    await session.heartbeat();
    const registered = new Set((await session.getMyResources()).map((r) => `${r.kind}:${r.id}`));
    const healed: string[] = [];
    for (const service of this.services) {
      if (!service.isRunning || registered.has(`process:${serviceResourceId(service)}`)) continue;
      await session.registerResource(serviceResource(service));
      healed.push(`session process:${serviceResourceId(service)}: missing → registered`);
    }
    return healed;
  }

  private async reapStale(): Promise<CleanupAction[]> {
    const report = await reapAndCleanUp(this.sessionManager(), this.config.cleanup, {
      graceMs: this.config.shutdown.graceMs,
      log: this.log,
    });
    return [...report.actions];
  }

  private async startServices(session: GlobalSessionManager): Promise<void> {
    const portMap = { ...this.ports } as Record<string, number>;
    const portEnv: Record<string, string> = { CORE_PORTS: JSON.stringify(portMap) };
    for (const [name, port] of Object.entries(portMap))
      portEnv[`${PORT_ENV_PREFIX}${name.toUpperCase()}`] = String(port);
    for (const config of this.config.services) {
      const port = portMap[config.port];
      if (port === undefined) {
        throw new SystemManagerError(
          'E_CONFIG_INVALID',
          `services.${config.name}.port: no port named "${config.port}" (known: ${Object.keys(portMap).join(', ')})`,
        );
      }
      const service = new ManagedService(
        config,
        port,
        { ...portEnv, PORT: String(port), SERVICE_NAME: config.name },
        this.log.child({ component: 'service', service: config.name }),
        (name, message) => void this.recordServiceMessage(name, message),
      );
      this.services.push(service);
      await service.start();
      await session.registerResource(serviceResource(service));
      this.log.info({ service: config.name, servicePid: service.pid, port }, 'service started');
    }
  }

  private async recordServiceMessage(service: string, message: ServiceMessage): Promise<void> {
    const tracker = this.stats.tracker(service);
    if (message.event === 'hit') await tracker.recordHit({ addCostSavings: message.addCostSavings ?? true });
    else if (message.event === 'miss') {
      // Both flags at once would be a TypeError in the tracker: an expired entry wins.
      await tracker.recordMiss({
        isExpired: message.expired === true,
        isUninitialized: message.expired !== true && message.uninitialized === true,
      });
    } else await tracker.recordCleanup(message.entriesCleaned, { success: message.success ?? true });
  }
}

function serviceResourceId(service: ManagedService): string {
  return `${service.config.name}@${service.pid}`;
}

function serviceResource(service: ManagedService) {
  return {
    kind: 'process',
    id: serviceResourceId(service),
    pid: service.pid ?? undefined,
    processStartTime: service.processStartTime ?? undefined,
    components: [service.config.name],
    metadata: {
      service: service.config.name,
      port: service.port,
      portName: service.config.port,
      tty: currentTerminal(),
    },
  } as const;
}
