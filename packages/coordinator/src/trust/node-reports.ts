import type { NetworkView, NodeSession } from '../network/index.js'
import type { Scheduler } from '../scheduler/index.js'
import type { Trust } from './trust.js'

export interface NodeReportsComponents {
  network: NetworkView
  trust: Trust
  scheduler: Scheduler
}

/**
 * Tells every node what this coordinator thinks of it (trust level and why, results accepted
 * and tokens served: the basis of rewards) and how much work waits per model it serves, at
 * session start and then every `intervalMs`. `dria-node status` shows it to the operator.
 */
export function startNodeReports (components: NodeReportsComponents, init: { intervalMs: number }): { stop(): void } {
  const { network, trust, scheduler } = components

  function report (session: NodeSession): void {
    const status = trust.status(session.id)
    session.report({
      trustLevel: status.level,
      trustReason: status.reason ?? '',
      verifiedTasks: status.served.tasks,
      verifiedTokens: status.served.tokens,
      demand: [...session.models.keys()].map(model => ({ model, queued: scheduler.queued(model) }))
    })
  }

  network.onSession(report)
  const timer = setInterval(() => { network.sessions().forEach(report) }, init.intervalMs)
  timer.unref()
  return { stop: () => { clearInterval(timer) } }
}
