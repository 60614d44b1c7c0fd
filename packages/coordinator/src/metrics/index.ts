import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { MAX_MODEL_LABELS, OTHER_LABEL, TASK_SECONDS_BUCKETS } from './constants.js'

export { observeSettled, timeTaskRun } from './task-metrics.js'
export { instrumentHttp } from './http-metrics.js'

/** The coordinator's Prometheus metrics; modules take `CoordinatorMetrics | null`. */
export interface CoordinatorMetrics {
  registry: Registry
  /** One per answer (or failure) of a dispatched task attempt. */
  taskAttempts: Counter<'outcome'>
  /** Round trip of a task attempt, dispatch to verified answer. */
  taskSeconds: Histogram
  /** Lines that reached a final state: completed, failed, cancelled, expired. */
  tasksSettled: Counter<'state'>
  /** Results a node signed but verification refused. */
  verificationFailures: Counter<'code'>
  /** Results that passed verification (and any sampled re-execution) and were kept. */
  verificationAccepted: Counter
  /** Lines read from input files during validation. */
  ingestedLines: Counter
  /** Sampled re-executions by result: agreed, caught, inconclusive, skipped. */
  audits: Counter<'result'>
  /** Prompt tokens of completed lines, by model. */
  inputTokens: Counter<'model'>
  /** Generated tokens of completed lines, by model. */
  outputTokens: Counter<'model'>
  /** One task run on a node (dispatches and audits), by model and how it ended. */
  taskRunSeconds: Histogram<'model' | 'outcome'>
  httpRequests: Counter<'method' | 'route' | 'status_code'>
  httpSeconds: Histogram<'method' | 'route'>
  /** Event stream clients cut off for falling too far behind. */
  eventClientsDropped: Counter
  /** The model label for `model`: past MAX_MODEL_LABELS distinct models, new ones count as "other". */
  modelLabel(model: string): string
}

/** Read at scrape time. The optional ones are left out when not given. */
export interface MetricSources {
  nodes: () => number
  tasksInFlight: () => number
  /** Live nodes by trust level. */
  nodesByState?: () => Record<string, number>
  /** Unfinished lines of running batches, by model. */
  queuedLines?: () => Record<string, number>
  /** Open event streams. */
  eventClients?: () => number
}

export function createMetrics (sources: MetricSources): CoordinatorMetrics {
  const registry = new Registry()
  const registers = [registry]
  const models = new Set<string>()
  const modelLabel = (model: string): string => {
    if (models.has(model)) return model
    if (models.size >= MAX_MODEL_LABELS) return OTHER_LABEL
    models.add(model)
    return model
  }
  collectDefaultMetrics({ register: registry, prefix: 'dria_coordinator_' })
  new Gauge({ name: 'dria_network_nodes', help: 'Live nodes in the coordinator network view', registers, collect () { this.set(sources.nodes()) } })
  new Gauge({ name: 'dria_scheduler_tasks_in_flight', help: 'Task attempts dispatched and not yet answered', registers, collect () { this.set(sources.tasksInFlight()) } })
  const { nodesByState, queuedLines, eventClients } = sources
  if (nodesByState !== undefined) {
    new Gauge({
      name: 'dria_network_nodes_by_state',
      help: 'Connected nodes by trust level: new, trusted, allowlisted, quarantined',
      labelNames: ['state'],
      registers,
      collect () {
        for (const [state, count] of Object.entries(nodesByState())) this.set({ state }, count)
      }
    })
  }
  if (queuedLines !== undefined) {
    new Gauge({
      name: 'dria_batch_queued_lines',
      help: 'Unfinished lines of running batches, by model',
      labelNames: ['model'],
      registers,
      collect () {
        this.reset()
        const byLabel = new Map<string, number>()
        for (const [model, count] of Object.entries(queuedLines())) byLabel.set(modelLabel(model), (byLabel.get(modelLabel(model)) ?? 0) + count)
        for (const [model, count] of byLabel) this.set({ model }, count)
      }
    })
  }
  if (eventClients !== undefined) {
    new Gauge({ name: 'dria_events_clients', help: 'Open event streams (/api/v0/events)', registers, collect () { this.set(eventClients()) } })
  }
  return {
    registry,
    taskAttempts: new Counter({ name: 'dria_scheduler_task_attempts_total', help: 'Task attempts by outcome', labelNames: ['outcome'], registers }),
    taskSeconds: new Histogram({ name: 'dria_scheduler_task_duration_seconds', help: 'Task attempt round trip', buckets: TASK_SECONDS_BUCKETS, registers }),
    tasksSettled: new Counter({ name: 'dria_batch_lines_settled_total', help: 'Batch lines that reached a final state', labelNames: ['state'], registers }),
    verificationFailures: new Counter({ name: 'dria_verification_failures_total', help: 'Results refused by verification, by code', labelNames: ['code'], registers }),
    verificationAccepted: new Counter({ name: 'dria_verification_accepted_total', help: 'Results that passed verification and were kept', registers }),
    ingestedLines: new Counter({ name: 'dria_ingest_lines_total', help: 'Input lines validated and split into tasks', registers }),
    audits: new Counter({ name: 'dria_verification_audits_total', help: 'Sampled re-executions by result', labelNames: ['result'], registers }),
    inputTokens: new Counter({ name: 'dria_batch_input_tokens_total', help: 'Prompt tokens of completed lines, by model', labelNames: ['model'], registers }),
    outputTokens: new Counter({ name: 'dria_batch_output_tokens_total', help: 'Generated tokens of completed lines, by model', labelNames: ['model'], registers }),
    taskRunSeconds: new Histogram({
      name: 'dria_task_duration_seconds',
      help: 'One task run on a node, request to answer, by model and outcome (result, error, rejected, failed)',
      labelNames: ['model', 'outcome'],
      buckets: TASK_SECONDS_BUCKETS,
      registers
    }),
    httpRequests: new Counter({ name: 'dria_http_requests_total', help: 'HTTP requests by method, route template and status code', labelNames: ['method', 'route', 'status_code'], registers }),
    httpSeconds: new Histogram({
      name: 'dria_http_request_duration_seconds',
      help: 'HTTP request handling time by method and route template',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers
    }),
    eventClientsDropped: new Counter({ name: 'dria_events_clients_dropped_total', help: 'Event stream clients disconnected for falling behind', registers }),
    modelLabel
  }
}
