import { DEFAULT_MAX_TOKENS } from '../constants.js'
import { unsupportedParameter } from '../errors.js'
import { SamplerId } from '../sampler/index.js'
import { DEFAULT_TAG } from './constants.js'
import type { ChatMessage, FinishReason, GenerationResult, MediaCapability, ModelKindName, SamplingParams } from '@dria/protocol'
import type { Message, ModelDetails, Options, ShowResponse } from 'ollama'

/** Sampling parameters as Ollama's `options` and `format`. Ollama has no logprobs. */
export function toOllamaParams (params: SamplingParams): { options: Partial<Options>, format?: string | object } {
  if (params.logprobs === true) throw unsupportedParameter('body.logprobs', 'Ollama does not report logprobs')
  const options: Partial<Options> = { num_predict: params.maxTokens ?? DEFAULT_MAX_TOKENS }
  if (params.temperature !== undefined) options.temperature = params.temperature
  if (params.topP !== undefined) options.top_p = params.topP
  if (params.seed !== undefined) options.seed = params.seed
  if (params.stop !== undefined) options.stop = params.stop
  switch (params.responseFormat?.type) {
    case 'json_schema': return { options, format: params.responseFormat.schema }
    case 'json_object': return { options, format: 'json' }
    default: return { options }
  }
}

/** Ollama has no developer role; it is the system prompt there. */
export function toOllamaMessages (messages: ChatMessage[]): Message[] {
  return messages.map(({ role, content, images }) => ({
    role: role === 'developer' ? 'system' : role,
    content,
    ...(images !== undefined && images.length > 0 ? { images } : {})
  }))
}

/**
 * Media a model reads, from /api/show's `capabilities`. Only images: Ollama's native API has
 * no field for audio, so a model is never advertised as hearing what it cannot be sent.
 */
export function modelMedia (show: Pick<ShowResponse, 'capabilities'> | undefined): MediaCapability[] {
  return Array.isArray(show?.capabilities) && show.capabilities.includes('vision') ? ['vision'] : []
}

/** Ollama reports `stop`, `length`, or reasons such as `load`/`unload` that mean it stopped. */
export function toFinishReason (doneReason: string | undefined): FinishReason {
  return doneReason === 'length' ? 'length' : 'stop'
}

/**
 * Ollama omits counts that are zero (Go's omitempty), e.g. a prompt served from its cache.
 * Its own sampler chose the tokens, and it does not say which they were.
 */
export function toResult (text: string, final: { done_reason?: string, prompt_eval_count?: number, eval_count?: number }): GenerationResult {
  return {
    text,
    finishReason: toFinishReason(final.done_reason),
    usage: { promptTokens: final.prompt_eval_count ?? 0, completionTokens: final.eval_count ?? 0 },
    sampler: SamplerId.NATIVE
  }
}

export function shortName (name: string): string {
  return name.endsWith(DEFAULT_TAG) ? name.slice(0, -DEFAULT_TAG.length) : name
}

/**
 * Embedding-only models: Ollama ≥ 0.6 lists `capabilities` in /api/show (`embedding`
 * without `completion`); older servers only tell the family, where BERT-like means embedding.
 */
export function modelKind (show: Pick<ShowResponse, 'capabilities'> | undefined, details: Pick<ModelDetails, 'family' | 'families'>): ModelKindName {
  const capabilities = show?.capabilities
  if (Array.isArray(capabilities) && capabilities.length > 0) {
    return capabilities.includes('embedding') && !capabilities.includes('completion') ? 'embedding' : 'chat'
  }
  const families = [details.family, ...(details.families ?? [])]
  return families.some(family => typeof family === 'string' && family.includes('bert')) ? 'embedding' : 'chat'
}

/** `general.architecture` and `<architecture>.context_length` from /api/show's model_info (a plain JSON object on the wire). */
export function architectureInfo (show: Pick<ShowResponse, 'model_info'> | undefined): { architecture?: string, contextLength?: number } {
  const info = show?.model_info as unknown as Record<string, unknown> | undefined
  const architecture = info?.['general.architecture']
  if (typeof architecture !== 'string') return {}
  const length = info?.[`${architecture}.context_length`]
  return { architecture, contextLength: typeof length === 'number' ? length : undefined }
}
