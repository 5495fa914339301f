export {
  type AppMetricsInput,
  type ReapMetricsInput,
  renderAppMetrics,
  type ServiceMetricsInput,
  type SessionStoreMetricsInput,
} from './app-metrics.js';
export { escapeLabelValue, type MetricFamily, renderFamilies, type Sample } from './exposition.js';
export { createProcessMetrics, type ProcessMetrics, type ProcessMetricsOptions } from './process-metrics.js';
export { adoptedByKind, type ReapCleanupCount, ReapTally } from './reap-tally.js';
