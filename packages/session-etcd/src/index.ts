export { type EtcdAccessRefusal, EtcdStoreAccessError } from './access-errors.js';
export { ETCD_ENDPOINTS_ENV, etcdEndpointsFromEnv } from './endpoints.js';
export {
  EtcdLeaseConflictError,
  EtcdStoreCorruptError,
  EtcdStoreError,
  type EtcdStoreErrorCode,
  EtcdStoreSyncError,
  EtcdStoreUnavailableError,
} from './errors.js';
export {
  type Fence,
  type FenceContext,
  type FencedCleanup,
  fencedCleanup,
  fencingTokenOf,
} from './fencing.js';
export type { EtcdSessionStoreOptions, EtcdTlsOptions } from './options.js';
export type { LeaseLoss, LeaseRenewal, LeaseState } from './renewal.js';
export { EtcdSessionStore, type EtcdSessionStoreEvents } from './store.js';
export type { EtcdReapingMark, EtcdReapTakeover, EtcdStoredSession } from './stored.js';
