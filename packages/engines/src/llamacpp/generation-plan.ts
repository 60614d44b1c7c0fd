import { DriaError } from '@dria/protocol'
import { DEFAULT_MAX_TOKENS } from '../constants.js'
import { EngineErrorCode } from '../errors.js'
import { driaSampling } from '../sampler/index.js'
import { stopSet } from './prompt.js'
import type { GenerationPlan } from './generate.js'
import type { RenderedPrompt } from './prompt.js'
import type { SamplingParams } from '@dria/protocol'
import type { GbnfJsonSchema, Llama, LlamaGrammar, LlamaModel } from 'node-llama-cpp'

/**
 * node-llama-cpp's `integer` rule admits an exponent, so `-5e-20` passes as an integer; a
 * schema checker (and the user) would rightly refuse it. Integers are digits only.
 */
export function integersWithoutExponent (gbnf: string): string {
  return gbnf.replace(/^integer-number-rule ::= .*$/m, 'integer-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15})')
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
        const grammar = await llama.createGrammarForJsonSchema<GbnfJsonSchema>(format.schema as GbnfJsonSchema)
        return await llama.createGrammar({
          grammar: integersWithoutExponent(grammar.grammar),
          stopGenerationTriggers: grammar.stopGenerationTriggers,
          trimWhitespaceSuffix: grammar.trimWhitespaceSuffix,
          rootRuleName: grammar.rootRuleName
        })
      } catch (err) {
        throw new DriaError(EngineErrorCode.UNSUPPORTED_RESPONSE_FORMAT, `json_schema cannot be enforced: ${(err as Error).message}`, {
          param: 'body.response_format.json_schema.schema', cause: err
        })
      }
  }
}

/**
 * Resolves a request's parameters for `prompt` on a context of `contextSize` tokens. The
 * token budget is what the context holds after the prompt: generation never shifts the
 * context (which would silently drop the start of the prompt), it stops with finish reason
 * `length` instead. No repeat penalty, as OpenAI applies none by default.
 */
export async function generationPlan (
  llama: Llama, model: LlamaModel, params: SamplingParams, prompt: RenderedPrompt, contextSize: number, seed: number
): Promise<GenerationPlan> {
  const budget = contextSize - prompt.tokens.length
  if (budget <= 0) {
    throw new DriaError(EngineErrorCode.CONTEXT_LENGTH_EXCEEDED, `the prompt has ${prompt.tokens.length} tokens; the context holds ${contextSize}`, { param: prompt.param })
  }
  const grammar = await grammarFor(llama, params.responseFormat)
  return {
    prompt,
    stops: stopSet(model, prompt, grammar, params.stop),
    maxTokens: Math.min(params.maxTokens ?? DEFAULT_MAX_TOKENS, budget),
    contextLeft: budget,
    grammar,
    sampling: driaSampling(params),
    seed,
    logprobs: params.logprobs === true ? { top: params.topLogprobs ?? 0 } : undefined
  }
}
