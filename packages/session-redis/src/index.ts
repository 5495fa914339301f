export type { SentinelAddress } from './endpoint.js';
export {
  RedisLeaseConflictError,
  RedisStoreCorruptError,
  RedisStoreError,
  type RedisStoreErrorCode,
  RedisStoreNotReplicatedError,
  RedisStoreSyncError,
  RedisStoreUnavailableError,
} from './errors.js';
export type { LeaseRenewal } from './lease-renewal.js';
export type {
  RedisSessionStoreOptions,
  RedisSessionStoreOptions as RedisRegistryStoreOptions,
} from './options.js';
export {
  RedisRegistryStore,
  type RedisRegistryStoreEvents,
  RedisSessionStore,
  type RedisSessionStoreEvents,
} from './store.js';
