// The API of an application that keeps a session. What a store implementer
// needs besides lives in `@core/session/store` (src/store.ts).
import type * as contract from './contract.js';
import * as schema from './schema.js';

export type {
  ClaimChooser,
  CleanupResult,
  HostIdentity,
  Liveness,
  ReapedResource,
  ReapOptions,
  ReapReport,
  ReapResult,
  ResourceCleanup,
  ResourceInput,
  ResourceRecord,
  SessionListing,
  SessionLogger,
  SessionOwner,
  SessionRecord,
  SessionStatus,
  SessionStore,
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
export { FileSessionStore, type FileSessionStoreOptions } from './file-store/store.js';
export { readHostIdentity } from './host.js';
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
export {
  createSessionManager,
  getSessionManager,
  isSessionManagerAvailable,
  sessionPackageVersion,
} from './singleton.js';
export {
  judgeLiveness,
  judgeSession,
  type LivenessContext,
  type LivenessVerdict,
  type SessionLiveness,
} from './staleness.js';

/** @deprecated Import it from `@core/session/store`; removed here in the next major. */
export type ClaimOutcome = contract.ClaimOutcome;
/** @deprecated Import it from `@core/session/store`; removed here in the next major. */
export type ClaimRequest = contract.ClaimRequest;
/** @deprecated Import it from `@core/session/store`; removed here in the next major. */
export type LeaseEvidence = contract.LeaseEvidence;
/** @deprecated Import it from `@core/session/store`; removed here in the next major. */
export type ReapingMark = contract.ReapingMark;
/** @deprecated Import it from `@core/session/store`; removed here in the next major. */
export type ReapTakeover = contract.ReapTakeover;
/** @deprecated Import it from `@core/session/store`; removed here in the next major. */
export type StoredClaim = contract.StoredClaim;
/** @deprecated Import it from `@core/session/store`; removed here in the next major. */
export type StoredSession = contract.StoredSession;
/** @deprecated Import it from `@core/session/store`; removed here in the next major. */
export const parseSessionRecord: typeof schema.parseSessionRecord = schema.parseSessionRecord;
/** @deprecated Import it from `@core/session/store`; removed here in the next major. */
export const parseWith: typeof schema.parseWith = schema.parseWith;
