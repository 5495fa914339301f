export type {
  ClaimChooser,
  ReapResult,
  ResourceInput,
  ResourceRecord,
  SessionLogger,
  SessionRecord,
  SessionStatus,
} from './contract.js';
export {
  SessionClaimConflictError,
  SessionDirUnsafeError,
  SessionError,
  type SessionErrorCode,
  SessionLockLostError,
  SessionLockTimeoutError,
  SessionOptionsConflictError,
} from './errors.js';
export { GlobalSessionManager, type SessionIdentitySeed, type SessionStatistics } from './manager.js';
export { resolveSessionDir, type SessionManagerOptions } from './options.js';
export { isProcessAlive, readProcessStartTime } from './process.js';
export { parseSessionRecord } from './schema.js';
export { createSessionManager, getSessionManager, isSessionManagerAvailable } from './singleton.js';
export { judgeSession, lastSignOfLife, type SessionLiveness } from './staleness.js';
export {
  FileRegistryStore,
  type FileRegistryStoreOptions,
  type RegistryData,
  type RegistryStore,
  type SessionIdentity,
  type UpdateContext,
} from './store.js';
