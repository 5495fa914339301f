import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { RedisRegistryStore } from '@core/session-redis';
import type { SystemManagerConfig } from './config.js';
import { ConfigError } from './errors.js';
import { loadFleetKey } from './fleet-key.js';
import type { Logger } from './logger.js';

/** Env var that selects the fleet-wide Redis session registry (wins over `session.redisUrl` in the config). */
export const REDIS_URL_ENV = 'CORE_SESSION_REDIS_URL';

// ioredis costs ~100 ms to load: only a run with a Redis URL pays for it.
// Synchronous (require of an ES module, Node >= 20.19) because the manager
// creates its session store synchronously, on the first path that needs it.
let redisModule: typeof import('@core/session-redis') | undefined;
function loadRedisStore(): typeof import('@core/session-redis') {
  // The package exports only an `import` condition: resolve it as an import would, then require that file.
  redisModule ??= createRequire(import.meta.url)(
    fileURLToPath(import.meta.resolve('@core/session-redis')),
  ) as typeof import('@core/session-redis');
  return redisModule;
}

/**
 * The Redis session store when the config (`session.redisUrl`) or the env
 * (`CORE_SESSION_REDIS_URL`) asks for one; undefined for the embedded file
 * registry of this machine.
 * With a fleet key (see ./fleet-key.ts) the store signs its entries and refuses unsigned ones.
 * @throws ConfigError E_CONFIG_INVALID (exit code 78) when the URL, the lease settings or the fleet key are unusable.
 */
export function createSessionStore(
  config: SystemManagerConfig,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  options: { readonly unavailableTimeoutMs?: number } = {},
): RedisRegistryStore | undefined {
  const fromEnv = env[REDIS_URL_ENV];
  const url = fromEnv !== undefined && fromEnv !== '' ? fromEnv : config.session.redisUrl;
  if (url === undefined) return undefined;
  const fleetKey = loadFleetKey(config, env);
  const { RedisRegistryStore: Store } = loadRedisStore();
  try {
    return new Store({
      ...(fleetKey === undefined ? {} : { fleetKey }),
      ...(config.session.sentinels === undefined ? {} : { sentinels: config.session.sentinels }),
      ...(config.session.masterName === undefined ? {} : { masterName: config.session.masterName }),
      ...(config.session.replicasToAck === undefined ? {} : { replicasToAck: config.session.replicasToAck }),
      ...(config.session.replicaAckTimeoutMs === undefined
        ? {}
        : { replicaAckTimeoutMs: config.session.replicaAckTimeoutMs }),
      url,
      leaseTtlMs: config.session.leaseTtlMs,
      heartbeatMs: config.session.heartbeatMs,
      ...(config.session.keyPrefix === undefined ? {} : { keyPrefix: config.session.keyPrefix }),
      logger: logger.child({ component: 'session-store' }),
      ...(options.unavailableTimeoutMs === undefined
        ? {}
        : { unavailableTimeoutMs: options.unavailableTimeoutMs }),
    });
  } catch (error) {
    const source = fromEnv !== undefined && fromEnv !== '' ? REDIS_URL_ENV : 'config session.redisUrl';
    throw new ConfigError(
      'E_CONFIG_INVALID',
      `${source}: cannot use the Redis session registry: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
