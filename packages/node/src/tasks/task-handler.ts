import {
  DriaError, RejectionCode, TaskKind, parseOpenAIBody, signTaskResult
} from '@dria/protocol'
import type {
  InferenceRequest, Logger, TaskKindName, TaskRequest, TaskResponse, TaskResult
} from '@dria/protocol'
import type { InferenceEngine, ModelInfo } from '@dria/engines'
import type { PrivateKey, PeerId } from '@libp2p/interface'
import type { Slots } from '../slots.js'

const KIND_NAMES: Partial<Record<TaskKind, TaskKindName>> = {
  [TaskKind.TASK_KIND_CHAT]: 'chat',
  [TaskKind.TASK_KIND_COMPLETION]: 'completion',
  [TaskKind.TASK_KIND_EMBEDDING]: 'embedding'
}

export interface TaskHandlerComponents {
  engine: InferenceEngine
  slots: Slots
  privateKey: PrivateKey
  logger: Logger
}

export interface TaskHandlerInit {
  /** Models this node advertises, by name. */
  models: ReadonlyMap<string, ModelInfo>
  /** Used when the request carries no timeout. */
  defaultTimeoutMs: number
}

export interface TaskHandler {
  handle(request: TaskRequest, context: { remotePeer: PeerId, signal: AbortSignal }): Promise<TaskResponse>
  /** From now on, new tasks are refused with SHUTTING_DOWN. */
  close(): void
}

function reject (request: TaskRequest, code: RejectionCode, message: string): TaskResponse {
  return { rejection: { taskId: request.taskId, code, message } }
}

async function runEngine (engine: InferenceEngine, inference: InferenceRequest, signal: AbortSignal): Promise<{ output: unknown, promptTokens: number, completionTokens: number }> {
  switch (inference.kind) {
    case 'chat':
    case 'completion': {
      const result = inference.kind === 'chat'
        ? await engine.chat(inference.request, { signal })
        : await engine.complete(inference.request, { signal })
      return {
        output: { text: result.text, finish_reason: result.finishReason },
        promptTokens: result.usage.promptTokens,
        completionTokens: result.usage.completionTokens
      }
    }
    case 'embedding': {
      const result = await engine.embed(inference.request, { signal })
      return { output: { embeddings: result.embeddings }, promptTokens: result.usage.promptTokens, completionTokens: 0 }
    }
  }
}

/**
 * Serves one task: admission (model, request, free slot), the engine call under a deadline,
 * and a signed result. Engine failures become signed error results so the coordinator can
 * tell a retryable hiccup from a bad request.
 */
export function createTaskHandler (components: TaskHandlerComponents, init: TaskHandlerInit): TaskHandler {
  const { engine, slots, privateKey } = components
  const log = components.logger.child({ module: 'tasks' })
  let closing = false

  async function handle (request: TaskRequest, context: { remotePeer: PeerId, signal: AbortSignal }): Promise<TaskResponse> {
    if (closing) return reject(request, RejectionCode.REJECTION_CODE_SHUTTING_DOWN, 'node is shutting down')
    const model = init.models.get(request.model)
    if (model === undefined) return reject(request, RejectionCode.REJECTION_CODE_MODEL_NOT_SERVED, `model ${request.model} is not served by this node`)
    const kind = KIND_NAMES[request.kind]
    if (kind === undefined) return reject(request, RejectionCode.REJECTION_CODE_INVALID_REQUEST, 'unknown task kind')

    let inference: InferenceRequest
    try {
      inference = parseOpenAIBody(kind, JSON.parse(new TextDecoder().decode(request.body)))
    } catch (err) {
      const reason = err instanceof DriaError ? `${err.code}: ${err.message}` : 'body is not valid JSON'
      return reject(request, RejectionCode.REJECTION_CODE_INVALID_REQUEST, reason)
    }
    inference.request.model = request.model

    const release = slots.tryAcquire()
    if (release === undefined) return reject(request, RejectionCode.REJECTION_CODE_AT_CAPACITY, `all ${slots.total} slots are busy`)

    const received = performance.now()
    const timeoutMs = request.timeoutMs > 0 ? request.timeoutMs : init.defaultTimeoutMs
    const signal = AbortSignal.any([context.signal, AbortSignal.timeout(timeoutMs)])
    const result: TaskResult = {
      taskId: request.taskId,
      attempt: request.attempt,
      model: request.model,
      modelDigest: model.digest,
      output: new Uint8Array(0),
      usage: { promptTokens: 0, completionTokens: 0 },
      timings: { queueMs: 0, engineMs: 0 },
      signature: new Uint8Array(0)
    }
    try {
      const started = performance.now()
      const { output, promptTokens, completionTokens } = await runEngine(engine, inference, signal)
      result.output = new TextEncoder().encode(JSON.stringify(output))
      result.usage = { promptTokens, completionTokens }
      result.timings = { queueMs: Math.round(started - received), engineMs: Math.round(performance.now() - started) }
      log.debug({ taskId: request.taskId, peer: context.remotePeer.toString(), completionTokens }, 'task completed')
    } catch (err) {
      const coded = err instanceof DriaError
      const timedOut = !coded && signal.aborted && !context.signal.aborted
      result.error = {
        code: coded ? err.code : (timedOut ? 'TASK_TIMEOUT' : 'ENGINE_FAILED'),
        message: err instanceof Error ? err.message : String(err),
        // Anything not known to be the request's fault may succeed elsewhere.
        retryable: coded ? err.retryable : true
      }
      log.warn({ taskId: request.taskId, code: result.error.code }, 'task failed')
    } finally {
      release()
    }
    return { result: await signTaskResult(privateKey, result) }
  }

  return {
    handle,
    close: () => { closing = true }
  }
}
