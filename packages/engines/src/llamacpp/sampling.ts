import { DriaError } from '@dria/protocol'
import { DEFAULT_MAX_TOKENS } from '../constants.js'
import { EngineErrorCode } from '../errors.js'
import { DEFAULT_TEMPERATURE } from './constants.js'
import type { SamplingParams } from '@dria/protocol'
import type { GbnfJsonSchema, Llama, LlamaGrammar } from 'node-llama-cpp'

/** The node-llama-cpp generation options both LlamaChat and LlamaCompletion accept. */
export interface GenerationOptions {
  maxTokens: number
  temperature: number
  topP?: number
  seed?: number
  customStopTriggers?: string[]
  grammar?: LlamaGrammar
  repeatPenalty: false
}

async function grammarFor (llama: Llama, format: SamplingParams['responseFormat']): Promise<LlamaGrammar | undefined> {
  switch (format?.type) {
    case undefined:
    case 'text':
      return undefined
    case 'json_object':
      return await llama.getGrammarFor('json')
    case 'json_schema':
      try {
        return await llama.createGrammarForJsonSchema<GbnfJsonSchema>(format.schema as GbnfJsonSchema)
      } catch (err) {
        throw new DriaError(EngineErrorCode.UNSUPPORTED_RESPONSE_FORMAT, `json_schema cannot be enforced: ${(err as Error).message}`, {
          param: 'body.response_format.json_schema.schema', cause: err
        })
      }
  }
}

/**
 * Maps OpenAI sampling parameters to node-llama-cpp's. `budget` is what is left of the
 * context after the prompt: generation never shifts the context (which would silently drop
 * the start of the prompt), it stops with finish reason `length` instead. No repeat penalty,
 * as OpenAI applies none by default.
 */
export async function generationOptions (llama: Llama, params: SamplingParams, budget: number): Promise<GenerationOptions> {
  return {
    maxTokens: Math.min(params.maxTokens ?? DEFAULT_MAX_TOKENS, budget),
    temperature: params.temperature ?? DEFAULT_TEMPERATURE,
    topP: params.topP,
    seed: params.seed,
    customStopTriggers: params.stop,
    grammar: await grammarFor(llama, params.responseFormat),
    repeatPenalty: false
  }
}
