import type { TaskReply } from '../network/index.js'
import type { TaskRow } from '../store/index.js'
import type { CoordinatorMetrics } from './index.js'

/**
 * Starts timing one task run on a node (dispatches and verification tasks) by model; the
 * returned function ends it with what came back.
 */
export function timeTaskRun (metrics: CoordinatorMetrics | null, model: string): (reply: TaskReply | undefined) => void {
  if (metrics === null) return () => {}
  const end = metrics.taskRunSeconds.startTimer({ model: metrics.modelLabel(model) })
  return reply => { end({ outcome: reply === undefined ? 'failed' : reply.rejection !== undefined ? 'rejected' : reply.result.error != null ? 'error' : 'result' }) }
}

/** Counts a line that reached its final state in the scheduler: tokens and accepted results by model. */
export function observeSettled (metrics: CoordinatorMetrics | null, row: TaskRow): void {
  if (metrics === null || row.state !== 'completed' || row.outcome === undefined) return
  const model = metrics.modelLabel(row.model)
  metrics.verificationAccepted.inc()
  metrics.inputTokens.inc({ model }, row.outcome.promptTokens)
  metrics.outputTokens.inc({ model }, row.outcome.completionTokens)
}
