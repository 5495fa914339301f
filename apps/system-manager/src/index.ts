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
export {
  type ControlServerOptions,
  type ControlSource,
  isLoopbackHost,
  startControlServer,
} from './control.js';
export { SystemManagerError, type SystemManagerErrorCode } from './errors.js';
export { createLogger, formatLogLine, type Logger } from './logger.js';
export {
  AsyncSystemManager,
  type AsyncSystemManagerOptions,
  DEFAULT_CONTROL_PORT,
  type ManagerStatus,
  PORT_ENV_PREFIX,
  type ReloadReport,
  type SessionStoreStatus,
  type StartOptions,
  type StartReport,
  type StopReport,
  type ValidationSummary,
} from './manager.js';
export {
  type BadServiceMessage,
  isServiceMessage,
  type ParsedServiceMessage,
  parseServiceMessage,
  type ServiceMessage,
  serviceMessageSchema,
} from './protocol.js';
export {
  type CleanupAction,
  type CleanupOutcome,
  cleanupResource,
  reapProcess,
  renderCommand,
  runCleanupCommand,
} from './reaper.js';
export { createSessionStore, REDIS_URL_ENV } from './session-store.js';
export type { AppMetricsInput, ManagerState } from './status.js';
export type { StoreHealthStatus } from './store-health.js';
export type { LogCounters } from './supervisor/log-forwarder.js';
export type { ServiceExit } from './supervisor/restart-policy.js';
export type { ServiceState, ServiceStatus } from './supervisor/service.js';
