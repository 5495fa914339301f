export type { ConsistencyResult, ConsistencyState } from './core.js';
export { COST_ENV_VARIABLE, DEFAULT_COST_PER_INFERENCE } from './cost.js';
export {
  type SnapshotProblem,
  StatsConfigurationError,
  StatsError,
  StatsErrorCode,
  StatsMetricConflictError,
  StatsSnapshotError,
} from './errors.js';
export {
  MAX_EVENT_LOG_SIZE,
  type StatsEvent,
  type StatsEventDetails,
  type StatsEventType,
} from './event-log.js';
export type { PromClientRegistry, RegisterWithOptions, UnregisterFn } from './prom-bridge.js';
export { PROMETHEUS_CONTENT_TYPE, StatsRegistry } from './registry.js';
export type { StatsSnapshot, StatsSnapshotInput } from './snapshot.js';
export {
  CacheStatisticsTracker,
  type RecordCleanupOptions,
  type RecordHitOptions,
  type RecordMissOptions,
  type TrackerOptions,
  type ValidateConsistencyOptions,
} from './tracker.js';
