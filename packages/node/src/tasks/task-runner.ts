import {
  DriaError, RejectionCode, ResultSigner, TaskKind, isDriaError, mediaOf, parseOpenAIBody
} from '@dria/protocol'
import type {
  GenerationResult, InferenceRequest, Logger, TaskKindName, TaskRejection, TaskRequest, TaskResult
} from '@dria/protocol'
import type { InferenceEngine, ModelInfo } from '@dria/engines'
import type { PrivateKey } from '@libp2p/interface'
import { parseScoreTask, scoreClaim, scorerOf } from './score-task.js'
import type { ScoreTask } from './score-task.js'

const KIND_NAMES: Partial<Record<TaskKind, TaskKindName>> = {
  [TaskKind.TASK_KIND_CHAT]: 'chat',
  [TaskKind.TASK_KIND_COMPLETION]: 'completion',
  [TaskKind.TASK_KIND_EMBEDDING]: 'embedding'
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export interface TaskRunnerComponents {
  engine: InferenceEngine
  privateKey: PrivateKey
  logger: Logger
}

export interface TaskRunnerInit {
  /** Models this node serves, by name. */
  models: ReadonlyMap<string, ModelInfo>
}

/** A request that passed admission checks, ready to run. */
export type PreparedTask =
  | { request: TaskRequest, model: ModelInfo, inference: InferenceRequest }
  | { request: TaskRequest, model: ModelInfo, score: ScoreTask }

export interface TaskRunner {
  /** Checks a request before it is admitted: a rejection, or the task ready to run. */
  prepare(request: TaskRequest): PreparedTask | TaskRejection
  /** Runs a prepared task; engine failures become signed error results (the requester learns why). */
  run(task: PreparedTask, signal: AbortSignal, queuedMs: number): Promise<TaskResult>
}

function rejection (request: TaskRequest, code: RejectionCode, message: string): TaskRejection {
  return { taskId: request.taskId, code, message }
}

/** What a generation puts on the wire: the text and what a verifier needs to check it. */
function generationOutput (result: GenerationResult): Record<string, unknown> {
  const output: Record<string, unknown> = { text: result.text, finish_reason: result.finishReason }
  if (result.tokens !== undefined) output.tokens = result.tokens
  if (result.sampler !== undefined) output.sampler = result.sampler
  if (result.logprobs !== undefined) output.logprobs = result.logprobs
  return output
}

async function runInference (engine: InferenceEngine, inference: InferenceRequest, signal: AbortSignal): Promise<{ output: unknown, promptTokens: number, completionTokens: number }> {
  switch (inference.kind) {
    case 'chat':
    case 'completion': {
      const result = inference.kind === 'chat'
        ? await engine.chat(inference.request, { signal })
        : await engine.complete(inference.request, { signal })
      return { output: generationOutput(result), promptTokens: result.usage.promptTokens, completionTokens: result.usage.completionTokens }
    }
    case 'embedding': {
      const result = await engine.embed(inference.request, { signal })
      return { output: { embeddings: result.embeddings }, promptTokens: result.usage.promptTokens, completionTokens: 0 }
    }
  }
}

/**
 * A model never receives media silently dropped: images for a model its engine does not
 * report as reading them (every llama.cpp model, today) fail as the request's own fault. A
 * signed error result rather than a rejection, so the coordinator keeps the code.
 */
function assertMediaSupported (model: ModelInfo, inference: InferenceRequest): void {
  for (const media of mediaOf(inference)) {
    if (model.media?.includes(media) !== true) {
      throw new DriaError(`${media.toUpperCase()}_UNSUPPORTED`, `model ${model.name} does not read ${media === 'vision' ? 'images' : 'audio'}`)
    }
  }
}

/**
 * Runs tasks on the engine and signs every answer: results, and engine failures as signed
 * error results so the coordinator can tell a retryable hiccup from a bad request.
 * Generation samples from the seed the request carries, so every line can be reproduced.
 */
export function createTaskRunner (components: TaskRunnerComponents, init: TaskRunnerInit): TaskRunner {
  const { engine } = components
  const signer = new ResultSigner(components.privateKey)
  const log = components.logger.child({ module: 'tasks' })
  const scorer = scorerOf(engine)

  function prepare (request: TaskRequest): PreparedTask | TaskRejection {
    const model = init.models.get(request.model)
    if (model === undefined) return rejection(request, RejectionCode.REJECTION_CODE_MODEL_NOT_SERVED, `model ${request.model} is not served by this node`)
    let body: unknown
    try {
      body = JSON.parse(decoder.decode(request.body))
    } catch {
      return rejection(request, RejectionCode.REJECTION_CODE_INVALID_REQUEST, 'body is not UTF-8 JSON')
    }
    try {
      if (request.kind === TaskKind.TASK_KIND_SCORE) {
        if (scorer === undefined) return rejection(request, RejectionCode.REJECTION_CODE_INVALID_REQUEST, 'this node cannot score results')
        return { request, model, score: parseScoreTask(body, request.model, request.seed) }
      }
      const kind = KIND_NAMES[request.kind]
      if (kind === undefined) return rejection(request, RejectionCode.REJECTION_CODE_INVALID_REQUEST, 'unknown task kind')
      const inference = parseOpenAIBody(kind, body)
      inference.request.model = request.model
      if (inference.kind !== 'embedding' && request.seed !== undefined) inference.request.seed = request.seed
      return { request, model, inference }
    } catch (err) {
      const reason = err instanceof DriaError ? `${err.code}: ${err.message}` : 'invalid request'
      return rejection(request, RejectionCode.REJECTION_CODE_INVALID_REQUEST, reason)
    }
  }

  async function execute (task: PreparedTask, signal: AbortSignal): Promise<{ output: unknown, promptTokens: number, completionTokens: number }> {
    if ('inference' in task) {
      assertMediaSupported(task.model, task.inference)
      return await runInference(engine, task.inference, signal)
    }
    return { output: await scoreClaim(scorer!, task.score, signal), promptTokens: 0, completionTokens: 0 }
  }

  async function run (task: PreparedTask, signal: AbortSignal, queuedMs: number): Promise<TaskResult> {
    const { request, model } = task
    const result: TaskResult = {
      taskId: request.taskId,
      attempt: request.attempt,
      model: request.model,
      modelDigest: model.digest,
      output: new Uint8Array(0),
      usage: { promptTokens: 0, completionTokens: 0 },
      timings: { queueMs: Math.round(queuedMs), engineMs: 0 },
      signature: new Uint8Array(0)
    }
    const started = performance.now()
    try {
      const { output, promptTokens, completionTokens } = await execute(task, signal)
      result.output = encoder.encode(JSON.stringify(output))
      result.usage = { promptTokens, completionTokens }
    } catch (err) {
      const coded = err instanceof DriaError
      result.error = {
        // Aborted for a reason (its deadline passed): say that reason, not how the engine unwound.
        code: signal.aborted && isDriaError(signal.reason) ? signal.reason.code : coded ? err.code : (signal.aborted ? 'TASK_TIMEOUT' : 'ENGINE_FAILED'),
        message: err instanceof Error ? err.message : String(err),
        // Anything not known to be the request's fault may succeed elsewhere.
        retryable: coded ? err.retryable : true
      }
      log.warn({ taskId: request.taskId, code: result.error.code }, 'task failed')
    }
    result.timings = { queueMs: Math.round(queuedMs), engineMs: Math.round(performance.now() - started) }
    return await signer.sign(result)
  }

  return { prepare, run }
}
