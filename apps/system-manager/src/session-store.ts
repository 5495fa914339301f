import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { SystemManagerConfig } from './config.js';
import { ConfigError } from './errors.js';
import { ETCD_ENDPOINTS_ENV, etcdFromEnv, etcdStoreSettings } from './etcd-store-options.js';
import { FLEET_KEY_FILE_ENV, loadFleetKey } from './fleet-key.js';
import { type FleetStore, recordFleetStore } from './fleet-store.js';
import type { Logger } from './logger.js';

export { ETCD_ENDPOINTS_ENV } from './etcd-store-options.js';

/** Env var that selects the fleet-wide Redis session registry (wins over `session.redisUrl` in the config). */
export const REDIS_URL_ENV = 'CORE_SESSION_REDIS_URL';

// ioredis and etcd3 cost ~100 ms each to load: only a run that uses one pays
// for it. Synchronous (require of an ES module, Node >= 20.19) because the
// manager creates its session store synchronously, on the first path that
// needs it. The packages export only an `import` condition: resolve each as
// an import would, then require that file.
let redisModule: typeof import('@core/session-redis') | undefined;
function loadRedisStore(): typeof import('@core/session-redis') {
  redisModule ??= createRequire(import.meta.url)(
    fileURLToPath(import.meta.resolve('@core/session-redis')),
  ) as typeof import('@core/session-redis');
  return redisModule;
}

let etcdModule: typeof import('@core/session-etcd') | undefined;
function loadEtcdStore(): typeof import('@core/session-etcd') {
  etcdModule ??= createRequire(import.meta.url)(
    fileURLToPath(import.meta.resolve('@core/session-etcd')),
  ) as typeof import('@core/session-etcd');
  return etcdModule;
}

/** Options of {@link createSessionStore}. */
export interface SessionStoreOptions {
  /** How long a call waits for the store before it counts as unavailable (a look, not a run, waits less). */
  readonly unavailableTimeoutMs?: number;
  /** How long after connecting an absent lease reads as "settling" rather than expired (a one-shot look may read it at once). */
  readonly settleMs?: number;
}

/** Which fleet registries the config and the env name, each with where it was named. */
function fleetRegistries(config: SystemManagerConfig, env: NodeJS.ProcessEnv) {
  const redisEnv = env[REDIS_URL_ENV];
  const redisFromEnv = redisEnv !== undefined && redisEnv !== '';
  return {
    redis: redisFromEnv
      ? { url: redisEnv as string, from: REDIS_URL_ENV }
      : config.session.redisUrl === undefined
        ? null
        : { url: config.session.redisUrl, from: 'config session.redisUrl' },
    etcd: etcdFromEnv(env)
      ? ETCD_ENDPOINTS_ENV
      : config.session.etcd === undefined
        ? null
        : 'config session.etcd',
  };
}

/**
 * The fleet-wide session store the config or the env asks for: Redis
 * (`session.redisUrl`, `CORE_SESSION_REDIS_URL`) or etcd (`session.etcd`,
 * `CORE_SESSION_ETCD_ENDPOINTS`); undefined for the embedded file registry
 * of this machine. Only the chosen store's package is loaded.
 * With a fleet key (see ./fleet-key.ts) the Redis store signs its entries and refuses unsigned ones.
 * @throws ConfigError E_CONFIG_INVALID (exit code 78) when both registries are named, or the
 *   URL, endpoints, lease settings, fleet key, TLS or password files are unusable.
 */
export function createSessionStore(
  config: SystemManagerConfig,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  options: SessionStoreOptions = {},
): FleetStore | undefined {
  const { redis, etcd } = fleetRegistries(config, env);
  if (redis !== null && etcd !== null)
    throw new ConfigError(
      'E_CONFIG_INVALID',
      `both a Redis session registry (${redis.from}) and an etcd one (${etcd}) are configured; a fleet keeps its sessions in one registry: unset one of them`,
    );
  if (etcd !== null) return createEtcdStore(config, env, logger, options);
  if (redis === null) return undefined;
  const fleetKey = loadFleetKey(config, env);
  const { RedisRegistryStore: Store } = loadRedisStore();
  let store: FleetStore;
  try {
    store = new Store({
      ...(fleetKey === undefined ? {} : { fleetKey }),
      ...(config.session.sentinels === undefined ? {} : { sentinels: config.session.sentinels }),
      ...(config.session.masterName === undefined ? {} : { masterName: config.session.masterName }),
      ...(config.session.replicasToAck === undefined ? {} : { replicasToAck: config.session.replicasToAck }),
      ...(config.session.replicaAckTimeoutMs === undefined
        ? {}
        : { replicaAckTimeoutMs: config.session.replicaAckTimeoutMs }),
      url: redis.url,
      leaseTtlMs: config.session.leaseTtlMs,
      heartbeatMs: config.session.heartbeatMs,
      ...(config.session.keyPrefix === undefined ? {} : { keyPrefix: config.session.keyPrefix }),
      logger: logger.child({ component: 'session-store' }),
      ...(options.unavailableTimeoutMs === undefined
        ? {}
        : { unavailableTimeoutMs: options.unavailableTimeoutMs }),
      ...(options.settleMs === undefined ? {} : { settleMs: options.settleMs }),
    });
  } catch (error) {
    throw new ConfigError(
      'E_CONFIG_INVALID',
      `${redis.from}: cannot use the Redis session registry: ${(error as Error).message}`,
      { cause: error },
    );
  }
  recordFleetStore(store, { kind: 'redis' });
  return store;
}

function createEtcdStore(
  config: SystemManagerConfig,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  options: SessionStoreOptions,
): FleetStore {
  const pkg = loadEtcdStore();
  const settings = etcdStoreSettings(config, env, pkg.etcdEndpointsFromEnv);
  const log = logger.child({ component: 'session-store' });
  const keyFile = env[FLEET_KEY_FILE_ENV];
  if (keyFile !== undefined && keyFile !== '')
    log.warn(
      { [FLEET_KEY_FILE_ENV]: keyFile },
      `${FLEET_KEY_FILE_ENV} is set, but the etcd registry signs nothing: ignored (protect the key prefix with etcd users and roles instead)`,
    );
  let store: FleetStore;
  try {
    store = new pkg.EtcdSessionStore({
      ...settings.options,
      logger: log,
      ...(options.unavailableTimeoutMs === undefined
        ? {}
        : { unavailableTimeoutMs: options.unavailableTimeoutMs }),
      ...(options.settleMs === undefined ? {} : { settleMs: options.settleMs }),
    });
  } catch (error) {
    throw new ConfigError(
      'E_CONFIG_INVALID',
      `${settings.source}: cannot use the etcd session registry: ${(error as Error).message}`,
      { cause: error },
    );
  }
  recordFleetStore(store, { kind: 'etcd', fencing: pkg.fencedCleanup });
  return store;
}
