import { isDeepStrictEqual } from 'node:util';
import type { ServiceConfig, SystemManagerConfig } from '../config.js';
import { SystemManagerError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SupervisedService } from './service.js';

/** What a reload did. */
export interface ReloadReport {
  readonly unchanged: readonly string[];
  /** Changed definitions, restarted one at a time. */
  readonly restarted: readonly string[];
  readonly stopped: readonly string[];
  readonly started: readonly string[];
  /** Services that did not become healthy after the reload (the rollout stops at the first). */
  readonly unhealthy: readonly string[];
  /** Changed settings a reload does not apply (they need a restart of the manager). */
  readonly needsRestart: readonly string[];
  /** Port names the new config added: resolved and reserved as at start. */
  readonly portsAdded: readonly string[];
  /** Port names added by an earlier reload that the new config no longer names: released. */
  readonly portsReleased: readonly string[];
}

/** What {@link reloadServices} works on. */
export interface ReloadContext {
  readonly current: SystemManagerConfig;
  readonly next: SystemManagerConfig;
  readonly services: readonly SupervisedService[];
  readonly ports: Readonly<Record<string, number>>;
  readonly create: (config: ServiceConfig) => SupervisedService;
  /** Drops a stopped service's record from the session. */
  readonly forget: (service: SupervisedService) => Promise<void>;
  readonly setServices: (services: SupervisedService[]) => void;
  readonly progress: (service: SupervisedService) => (elapsedMs: number) => void;
  /** Whether the manager began to shut down: the rollout stops (what it started is stopped with the rest). */
  readonly stopping: () => boolean;
  readonly log: Logger;
}

/** Top-level settings bound at start (ports are reserved, the store is connected). */
const FIXED_AT_START = ['ports', 'fallbacks', 'dynamicRange', 'session'] as const;

/**
 * Whether a setting bound at start changed. For `ports` and `fallbacks` only
 * the names the running config has count: a new name is resolved by the
 * reload itself.
 */
function changedAtStart(
  key: (typeof FIXED_AT_START)[number],
  current: SystemManagerConfig,
  next: SystemManagerConfig,
): boolean {
  if (key === 'ports' || key === 'fallbacks') {
    const before = current[key] as Record<string, unknown>;
    const after = next[key] as Record<string, unknown>;
    return Object.keys(before).some((name) => !isDeepStrictEqual(before[name], after[name]));
  }
  return !isDeepStrictEqual(current[key], next[key]);
}

/**
 * Rolls a new config out over the running services: removed ones stopped,
 * changed ones replaced one at a time (each must answer its health check
 * before the next is touched; the rollout stops at the first that does not),
 * new ones started; unchanged ones are not touched.
 * @throws SystemManagerError E_CONFIG_INVALID (before anything changes) when a service names an unknown port.
 */
export async function reloadServices(ctx: ReloadContext): Promise<ReloadReport> {
  const { next, log } = ctx;
  for (const [index, service] of next.services.entries()) {
    if (ctx.ports[service.port] === undefined)
      throw new SystemManagerError(
        'E_CONFIG_INVALID',
        `services.${index}.port: no port named "${service.port}" (known: ${Object.keys(ctx.ports).join(', ')}); the running config stays`,
      );
  }
  const needsRestart = FIXED_AT_START.filter((key) => changedAtStart(key, ctx.current, next));
  if (needsRestart.length > 0)
    log.warn(
      { settings: needsRestart },
      `reload: ${needsRestart.join(', ')} changed; they take effect at the next start`,
    );

  const byName = new Map(ctx.services.map((s) => [s.config.name, s]));
  const wanted = new Set(next.services.map((s) => s.name));
  const live = [...ctx.services];
  const report = {
    unchanged: [] as string[],
    restarted: [] as string[],
    stopped: [] as string[],
    started: [] as string[],
    unhealthy: [] as string[],
    needsRestart: [...needsRestart],
    portsAdded: [] as string[],
    portsReleased: [] as string[],
  };

  for (const service of ctx.services) {
    if (wanted.has(service.config.name) || ctx.stopping()) continue;
    await service.stop();
    await ctx.forget(service);
    live.splice(live.indexOf(service), 1);
    report.stopped.push(service.config.name);
    log.info({ service: service.config.name }, `reload: stopped removed service ${service.config.name}`);
  }
  ctx.setServices([...live]);

  for (const config of next.services) {
    if (ctx.stopping()) break;
    const old = byName.get(config.name);
    if (old && isDeepStrictEqual(old.config, config)) {
      report.unchanged.push(config.name);
      continue;
    }
    if (report.unhealthy.length > 0) continue; // the rollout stopped: the rest keep their old definition
    if (old) {
      await old.stop();
      await ctx.forget(old);
    }
    const fresh = ctx.create(config);
    if (old) fresh.continueCountsOf(old);
    if (old) live[live.indexOf(old)] = fresh;
    else live.push(fresh);
    ctx.setServices([...live]);
    try {
      await fresh.launch();
      await fresh.awaitHealthy({ onProgress: ctx.progress(fresh) });
      (old ? report.restarted : report.started).push(config.name);
      log.info({ service: config.name }, `reload: ${old ? 'restarted' : 'started'} ${config.name}`);
    } catch (error) {
      report.unhealthy.push(config.name);
      log.error(
        { err: error, service: config.name },
        `reload: ${config.name} did not become healthy; the rollout stops here`,
      );
    }
    // Supervised either way: a broken new definition is restarted by its policy until it is `failed`.
    fresh.supervise();
  }
  return report;
}
