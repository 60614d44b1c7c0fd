import { RejectionCode } from '@dria/protocol'
import type { Logger, NodeReport } from '@dria/protocol'
import type { TaskObserver } from '../tasks/index.js'
import type { NodeStatus, TrustLevel } from './node-status.js'

const TRUST_LEVELS = new Set<string>(['new', 'trusted', 'allowlisted', 'quarantined'])

/**
 * Feeds the node status: every finished or refused task (with one info line per finished
 * task, no prompt, no output) and every report a coordinator sends about this node.
 */
export function statusObserver (status: NodeStatus, logger: Logger): TaskObserver {
  const log = logger.child({ module: 'tasks' })
  return {
    taskRejected (code) {
      status.recordTask({ outcome: 'rejected', code: String(code).replace(/^REJECTION_CODE_/, '') })
      log.debug({ code: RejectionCode[code] ?? code }, 'task refused')
    },
    taskFinished (task) {
      const { taskId, model, work, coordinator: peer, engineMs: ms } = task
      if (task.error !== undefined) {
        status.recordTask({ outcome: 'failed', code: task.error })
        log.info({ taskId, model, work, peer, outcome: 'failed', code: task.error, ms }, 'task finished')
        return
      }
      const { promptTokens, completionTokens } = task
      status.recordTask({ outcome: 'completed', promptTokens, completionTokens })
      log.info({ taskId, model, work, peer, outcome: 'completed', promptTokens, completionTokens, ms }, 'task finished')
    },
    coordinatorReport (coordinator, report: NodeReport) {
      try {
        status.recordCoordinatorReport({
          coordinator,
          trust: { level: (TRUST_LEVELS.has(report.trustLevel) ? report.trustLevel : 'new') as TrustLevel, ...(report.trustReason === '' ? {} : { reason: report.trustReason }) },
          verified: { tasks: report.verifiedTasks, tokens: report.verifiedTokens },
          demand: report.demand.map(d => ({ model: d.model, queued: d.queued })),
          at: Date.now()
        })
      } catch (err) {
        log.debug({ coordinator, err }, 'coordinator report ignored')
      }
    }
  }
}
