export {
  type CleanupConfig,
  cleanupSchema,
  configSchema,
  DEFAULT_CONFIG,
  type LoadConfigOptions,
  loadConfig,
  loadConfigWithSource,
  parseConfig,
  portableExecArgv,
  type ServiceConfig,
  type SystemManagerConfig,
  type SystemManagerConfigInput,
  serviceSchema,
} from './config.js';
export {
  CONFIG_ENV,
  type ConfigDiscovery,
  type ConfigOrigin,
  type ConfigSource,
  discoverConfig,
  SYSTEM_CONFIG_FILE,
  userConfigFile,
} from './config-discovery.js';
export { CONFIG_SCHEMA_FILE, configJsonSchema } from './config-json-schema.js';
export {
  type ControlServerOptions,
  type ControlSource,
  isLoopbackHost,
  startControlServer,
} from './control.js';
export {
  ConfigError,
  EX_CONFIG,
  exitCodeOf,
  SystemManagerError,
  type SystemManagerErrorCode,
} from './errors.js';
export type { FleetLeaseRenewal, FleetStore, FleetStoreEvents, FleetStoreKind } from './fleet-store.js';
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
export type { ReapMetricsInput } from './metrics/index.js';
export { createNotifier, type Notifier, type NotifierLogger, watchdogIntervalMs } from './notify.js';
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
  MissingFencingTokenError,
  reapProcess,
  renderCommand,
  runCleanupCommand,
  UnsafeCommandValueError,
} from './reaper.js';
export {
  createSessionStore,
  ETCD_ENDPOINTS_ENV,
  REDIS_URL_ENV,
  type SessionStoreOptions,
} from './session-store.js';
export type { AppMetricsInput, ManagerState } from './status.js';
export type { StoreHealthStatus } from './store-health.js';
export type { LogCounters } from './supervisor/log-forwarder.js';
export type { LogWriterStatus } from './supervisor/log-writer.js';
export type { ServiceExit } from './supervisor/restart-policy.js';
export type { LogFileCounters } from './supervisor/rotating-log-file.js';
export type { ServiceState, ServiceStatus } from './supervisor/service.js';
export type { ServiceLogStatus } from './supervisor/service-output.js';
export type { HardeningKey, UnitHardening } from './unit/hardening.js';
export {
  packageCacheOf,
  RUNTIME_DIRECTORY,
  renderUnit,
  SYSTEM_SESSION_DIR,
  startBudgetSeconds,
  stopBudgetSeconds,
  UNIT_ENVIRONMENT_FILE,
  UnitError,
  type UnitInputs,
} from './unit/unit-file.js';
