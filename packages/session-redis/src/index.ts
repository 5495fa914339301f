export {
  RedisLeaseConflictError,
  RedisStoreContendedError,
  RedisStoreError,
  type RedisStoreErrorCode,
  RedisStoreSyncError,
  RedisStoreUnavailableError,
} from './errors.js';
export type { RedisRegistryStoreOptions } from './options.js';
export {
  type FleetSession,
  type LeaseRenewal,
  RedisRegistryStore,
  type RedisRegistryStoreEvents,
} from './store.js';
