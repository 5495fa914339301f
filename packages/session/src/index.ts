export type {
  ClaimChooser,
  ClaimOutcome,
  ClaimRequest,
  CleanupResult,
  HostIdentity,
  LeaseEvidence,
  Liveness,
  ReapedResource,
  ReapingMark,
  ReapOptions,
  ReapReport,
  ReapResult,
  ReapTakeover,
  ResourceCleanup,
  ResourceInput,
  ResourceRecord,
  SessionListing,
  SessionLogger,
  SessionOwner,
  SessionRecord,
  SessionStatus,
  SessionStore,
  StoredClaim,
  StoredSession,
} from './contract.js';
export {
  SessionClaimConflictError,
  SessionDirUnsafeError,
  SessionError,
  type SessionErrorCode,
  SessionLockLostError,
  SessionLockTimeoutError,
  SessionOptionsConflictError,
  SessionTakenOverError,
  SessionVersionConflictError,
  SessionWriteError,
} from './errors.js';
export { GlobalSessionManager, type SessionIdentitySeed, type SessionStatistics } from './manager.js';
export { resolveSessionDir, type SessionManagerOptions } from './options.js';
export { isProcessAlive, readProcessStartTime } from './process.js';
export { parseSessionRecord } from './schema.js';
export { createSessionManager, getSessionManager, isSessionManagerAvailable } from './singleton.js';
export { hostIdOf, readHostIdentity } from './host.js';
export {
  isOnThisHost,
  judgeLiveness,
  judgeSession,
  type LivenessContext,
  type LivenessVerdict,
  lastSignOfLife,
  type SessionLiveness,
} from './staleness.js';
export {
  FileRegistryStore,
  type FileRegistryStoreOptions,
  type RegistryData,
  type RegistryStore,
  type SessionIdentity,
  type UpdateContext,
} from './store.js';
