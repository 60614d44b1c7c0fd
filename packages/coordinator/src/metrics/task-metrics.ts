import type { TaskClient } from '@dria/p2p'
import type { TaskRow } from '../store/index.js'
import type { CoordinatorMetrics } from './index.js'

/** Times every task run on a node (the scheduler's dispatches and the auditor's re-executions) by model. */
export function instrumentTaskClient (client: TaskClient, metrics: CoordinatorMetrics | null): TaskClient {
  if (metrics === null) return client
  return {
    async run (peer, request, options) {
      const end = metrics.taskRunSeconds.startTimer({ model: metrics.modelLabel(request.model) })
      try {
        const response = await client.run(peer, request, options)
        end({ outcome: response.rejection != null ? 'rejected' : response.result?.error != null ? 'error' : 'result' })
        return response
      } catch (err) {
        end({ outcome: 'failed' })
        throw err
      }
    }
  }
}

/** Counts a line that reached its final state in the scheduler: tokens and accepted results by model. */
export function observeSettled (metrics: CoordinatorMetrics | null, row: TaskRow): void {
  if (metrics === null || row.state !== 'completed' || row.outcome === undefined) return
  const model = metrics.modelLabel(row.model)
  metrics.verificationAccepted.inc()
  metrics.inputTokens.inc({ model }, row.outcome.promptTokens)
  metrics.outputTokens.inc({ model }, row.outcome.completionTokens)
}
