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
  SessionClaimUnsettledError,
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
export type { StoreLayout } from './file-store/layout.js';
export { FileSessionStore, type FileSessionStoreOptions } from './file-store/store.js';
export { hostIdOf, readHostIdentity } from './host.js';
export { type ListSessionsOptions, listSessions } from './listing.js';
export { GlobalSessionManager, type SessionIdentitySeed, type SessionStatistics } from './manager.js';
export { resolveSessionDir, type SessionManagerOptions } from './options.js';
export {
  isProcessAlive,
  type ProcessSessionId,
  readProcessSessionId,
  readProcessStartTime,
  SESSION_ID_ENV,
} from './process.js';
export { refusalReason, unsafeCommandValue } from './resources.js';
export { parseSessionRecord, parseWith } from './schema.js';
export {
  compatibleVersions,
  createSessionManager,
  getSessionManager,
  isSessionManagerAvailable,
  sessionPackageVersion,
} from './singleton.js';
export {
  isOnThisHost,
  judgeLiveness,
  judgeSession,
  type LivenessContext,
  type LivenessVerdict,
  lastSignOfLife,
  type SessionLiveness,
} from './staleness.js';
