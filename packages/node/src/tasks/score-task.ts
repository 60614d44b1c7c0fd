import { DriaError, parseOpenAIBody } from '@dria/protocol'
import type { FinishReason, InferenceRequest } from '@dria/protocol'
import type { GenerationClaim, InferenceEngine, ScoreReport } from '@dria/engines'

/**
 * A verification task: the coordinator asks this node to check another node's claimed result
 * (body of a TASK_KIND_SCORE request; the request's seed is the one the producer sampled with).
 */
export interface ScoreTask {
  /** The request as the producer ran it. */
  inference: InferenceRequest
  /** The producer's output JSON, as it signed it. */
  output: Record<string, unknown>
  usage: { promptTokens: number, completionTokens: number }
}

function invalid (message: string): DriaError {
  return new DriaError('SCORE_TASK_INVALID', message)
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0

/** Validates a score task body: `{kind, body, claim: {output, usage: {prompt_tokens, completion_tokens}}}`. */
export function parseScoreTask (json: unknown, model: string, seed: number | undefined): ScoreTask {
  if (!isObject(json)) throw invalid('score task must be an object')
  const { kind, body, claim } = json
  if (kind !== 'chat' && kind !== 'completion' && kind !== 'embedding') throw invalid('score task kind must be chat, completion or embedding')
  if (!isObject(claim) || !isObject(claim.output) || !isObject(claim.usage)) throw invalid('score task claim must have output and usage objects')
  const { prompt_tokens: promptTokens, completion_tokens: completionTokens } = claim.usage
  if (!isCount(promptTokens) || !isCount(completionTokens)) throw invalid('claimed usage must be token counts')
  if (kind === 'embedding' ? !Array.isArray(claim.output.embeddings) : typeof claim.output.text !== 'string' || (claim.output.finish_reason !== 'stop' && claim.output.finish_reason !== 'length')) {
    throw invalid('claimed output does not have the shape of its kind')
  }
  const inference = parseOpenAIBody(kind, body)
  inference.request.model = model
  if (inference.kind !== 'embedding' && seed !== undefined) inference.request.seed = seed
  return { inference, output: claim.output, usage: { promptTokens, completionTokens } }
}

type Scorer = NonNullable<InferenceEngine['score']>

/** The scorer of engines that can verify results (llama.cpp); undefined for the others. */
export function scorerOf (engine: InferenceEngine): Scorer | undefined {
  return engine.score?.bind(engine)
}

/** Runs a score task on the engine's scorer; the report is the task's output. */
export async function scoreClaim (scorer: Scorer, task: ScoreTask, signal: AbortSignal): Promise<ScoreReport> {
  const { inference, output, usage } = task
  if (inference.kind === 'embedding') {
    return await scorer({ kind: 'embedding', request: inference.request, claim: { embeddings: output.embeddings as number[][], usage } }, { signal })
  }
  const claim: GenerationClaim = {
    text: output.text as string,
    finishReason: output.finish_reason as FinishReason,
    ...(Array.isArray(output.tokens) ? { tokens: output.tokens as number[] } : {}),
    ...(typeof output.sampler === 'string' ? { sampler: output.sampler } : {}),
    usage
  }
  return inference.kind === 'chat'
    ? await scorer({ kind: 'chat', request: inference.request, claim }, { signal })
    : await scorer({ kind: 'completion', request: inference.request, claim }, { signal })
}
