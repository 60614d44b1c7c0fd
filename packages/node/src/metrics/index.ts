export { createNodeMetrics, metricsObserver } from './node-metrics.js'
export type { NodeMetrics } from './node-metrics.js'
export { startMetricsServer } from './metrics-server.js'
export type { MetricsServer } from './metrics-server.js'
