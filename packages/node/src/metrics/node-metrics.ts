import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { RejectionCode } from '@dria/protocol'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { TaskObserver, WorkQueue } from '../tasks/index.js'

/** The node's Prometheus metrics, with libp2p's own in the same registry. */
export interface NodeMetrics {
  registry: Registry
  /** Tasks by how they ended: completed, failed, or rejected_<reason>. */
  tasks: Counter<'outcome'>
  inputTokens: Counter<'model'>
  outputTokens: Counter<'model'>
  /** Engine time of one task (from the result's own timings). */
  engineSeconds: Histogram<'model'>
  /** Single-sequence speed each served model measured at start-up. */
  modelTokensPerSecond: Gauge<'model'>
  /** Pass to the libp2p host: connection, stream, DHT and transport metrics. */
  libp2p: ReturnType<typeof prometheusMetrics>
}

const REJECTIONS: Readonly<Record<RejectionCode, string>> = {
  [RejectionCode.REJECTION_CODE_UNSPECIFIED]: 'rejected_other',
  [RejectionCode.REJECTION_CODE_AT_CAPACITY]: 'rejected_at_capacity',
  [RejectionCode.REJECTION_CODE_MODEL_NOT_SERVED]: 'rejected_model_not_served',
  [RejectionCode.REJECTION_CODE_INVALID_REQUEST]: 'rejected_invalid_request',
  [RejectionCode.REJECTION_CODE_SHUTTING_DOWN]: 'rejected_shutting_down',
  [RejectionCode.REJECTION_CODE_DUPLICATE_TASK]: 'rejected_duplicate'
}

export function createNodeMetrics (components: { queue: WorkQueue }): NodeMetrics {
  const { queue } = components
  const registry = new Registry()
  const registers = [registry]
  new Gauge({ name: 'dria_node_slots', help: 'Tasks the node runs at once (--slots)', registers, collect () { this.set(queue.slots) } })
  new Gauge({ name: 'dria_node_slots_busy', help: 'Slots running a task now', registers, collect () { this.set(queue.running) } })
  new Gauge({ name: 'dria_node_tasks_queued', help: 'Tasks accepted and waiting for a slot', registers, collect () { this.set(queue.waiting) } })
  return {
    registry,
    tasks: new Counter({ name: 'dria_node_tasks_total', help: 'Tasks by outcome: completed, failed, rejected_<reason>', labelNames: ['outcome'], registers }),
    inputTokens: new Counter({ name: 'dria_node_input_tokens_total', help: 'Prompt tokens of completed tasks, by model', labelNames: ['model'], registers }),
    outputTokens: new Counter({ name: 'dria_node_output_tokens_total', help: 'Generated tokens of completed tasks, by model (rate() of it is the live tokens/s)', labelNames: ['model'], registers }),
    engineSeconds: new Histogram({
      name: 'dria_node_engine_duration_seconds',
      help: 'Engine time of one task, by model',
      labelNames: ['model'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers
    }),
    modelTokensPerSecond: new Gauge({ name: 'dria_node_model_tokens_per_second', help: 'Single-sequence generation speed measured at start-up, by model', labelNames: ['model'], registers }),
    // Our metrics are registered first: libp2p must not clear them. It adds process and Node.js metrics too.
    libp2p: prometheusMetrics({ registry, preserveExistingMetrics: true })
  }
}

/** Counts every task the node answers or refuses. Models are labelled only once the node accepted to serve them. */
export function metricsObserver (metrics: NodeMetrics): TaskObserver {
  return {
    taskRejected (code) {
      metrics.tasks.inc({ outcome: REJECTIONS[code] ?? 'rejected_other' })
    },
    taskFinished (task) {
      metrics.engineSeconds.observe({ model: task.model }, task.engineMs / 1000)
      if (task.error !== undefined) {
        metrics.tasks.inc({ outcome: 'failed' })
        return
      }
      metrics.tasks.inc({ outcome: 'completed' })
      metrics.inputTokens.inc({ model: task.model }, task.promptTokens)
      metrics.outputTokens.inc({ model: task.model }, task.completionTokens)
    }
  }
}
