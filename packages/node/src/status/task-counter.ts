import type { Logger, TaskRequest, TaskResponse } from '@dria/protocol'
import type { PeerId } from '@libp2p/interface'
import type { NodeStatus } from './node-status.js'

type Handle = (request: TaskRequest, context: { remotePeer: PeerId, signal: AbortSignal }) => Promise<TaskResponse>

/**
 * Wraps the task handler: counts every task it finished or refused into the node status and
 * logs one info line per finished task (no prompt, no output).
 */
export function countTasks (handle: Handle, components: { status: NodeStatus, logger: Logger }): Handle {
  const log = components.logger.child({ module: 'tasks' })
  return async (request, context) => {
    const started = performance.now()
    const response = await handle(request, context)
    const { result, rejection } = response
    if (rejection !== undefined) {
      components.status.recordTask({ outcome: 'rejected', code: String(rejection.code).replace(/^REJECTION_CODE_/, '') })
      log.debug({ taskId: request.taskId, code: rejection.code }, 'task refused')
    } else if (result !== undefined) {
      const ms = Math.round(performance.now() - started)
      const peer = context.remotePeer.toString()
      if (result.error !== undefined) {
        components.status.recordTask({ outcome: 'failed', code: result.error.code })
        log.info({ taskId: request.taskId, model: request.model, peer, outcome: 'failed', code: result.error.code, ms }, 'task finished')
      } else {
        const promptTokens = result.usage?.promptTokens ?? 0
        const completionTokens = result.usage?.completionTokens ?? 0
        components.status.recordTask({ outcome: 'completed', promptTokens, completionTokens })
        log.info({ taskId: request.taskId, model: request.model, peer, outcome: 'completed', promptTokens, completionTokens, ms }, 'task finished')
      }
    }
    return response
  }
}
