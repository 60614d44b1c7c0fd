import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** The coordinator's Prometheus metrics; modules take `CoordinatorMetrics | null`. */
export interface CoordinatorMetrics {
  registry: Registry
  /** One per answer (or failure) of a dispatched task attempt. */
  taskAttempts: Counter<'outcome'>
  /** Round trip of a task attempt, dispatch to verified answer. */
  taskSeconds: Histogram
  /** Lines that reached a final state. */
  tasksSettled: Counter<'state'>
  /** Results a node signed but verification refused. */
  verificationFailures: Counter<'code'>
  /** Lines read from input files during validation. */
  ingestedLines: Counter
  /** Sampled re-executions by result: agreed, caught, inconclusive, skipped. */
  audits: Counter<'result'>
}

export function createMetrics (sources: { nodes: () => number, tasksInFlight: () => number }): CoordinatorMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'dria_coordinator_' })
  new Gauge({ name: 'dria_network_nodes', help: 'Live nodes in the coordinator network view', registers: [registry], collect () { this.set(sources.nodes()) } })
  new Gauge({ name: 'dria_scheduler_tasks_in_flight', help: 'Task attempts dispatched and not yet answered', registers: [registry], collect () { this.set(sources.tasksInFlight()) } })
  return {
    registry,
    taskAttempts: new Counter({ name: 'dria_scheduler_task_attempts_total', help: 'Task attempts by outcome', labelNames: ['outcome'], registers: [registry] }),
    taskSeconds: new Histogram({ name: 'dria_scheduler_task_duration_seconds', help: 'Task attempt round trip', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300], registers: [registry] }),
    tasksSettled: new Counter({ name: 'dria_batch_lines_settled_total', help: 'Batch lines that reached a final state', labelNames: ['state'], registers: [registry] }),
    verificationFailures: new Counter({ name: 'dria_verification_failures_total', help: 'Results refused by verification, by code', labelNames: ['code'], registers: [registry] }),
    ingestedLines: new Counter({ name: 'dria_ingest_lines_total', help: 'Input lines validated and split into tasks', registers: [registry] }),
    audits: new Counter({ name: 'dria_verification_audits_total', help: 'Sampled re-executions by result', labelNames: ['result'], registers: [registry] })
  }
}
