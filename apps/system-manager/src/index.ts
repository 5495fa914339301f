export {
  type CleanupConfig,
  cleanupSchema,
  configSchema,
  DEFAULT_CONFIG,
  loadConfig,
  parseConfig,
  type ServiceConfig,
  type SystemManagerConfig,
  type SystemManagerConfigInput,
  serviceSchema,
} from './config.js';
export { type ControlSource, startControlServer } from './control.js';
export { SystemManagerError, type SystemManagerErrorCode } from './errors.js';
export { createLogger, formatLogLine, type Logger } from './logger.js';
export {
  AsyncSystemManager,
  type AsyncSystemManagerOptions,
  DEFAULT_CONTROL_PORT,
  type ManagerStatus,
  PORT_ENV_PREFIX,
  type SessionStoreStatus,
  type StartReport,
  type StopReport,
  type ValidationSummary,
} from './manager.js';
export { isServiceMessage, type ServiceMessage } from './protocol.js';
export {
  type CleanupAction,
  type CleanupOutcome,
  cleanupResource,
  reapProcess,
  renderCommand,
  runCleanupCommand,
} from './reaper.js';
export type { ServiceState, ServiceStatus } from './services.js';
export { createSessionStore, REDIS_URL_ENV } from './session-store.js';
