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

/** Compiled json_schema grammars by schema text, per binding: a batch's lines usually share one schema. */
const schemaGrammars = new WeakMap<Llama, Map<string, Promise<LlamaGrammar>>>()
const MAX_CACHED_GRAMMARS = 64

async function compileSchemaGrammar (llama: Llama, schema: Record<string, unknown>): Promise<LlamaGrammar> {
  try {
    // Built once to get node-llama-cpp's rules, compiled once more with strict integers.
    const generated = await llama.createGrammarForJsonSchema<GbnfJsonSchema>(schema as GbnfJsonSchema)
    return await llama.createGrammar({
      grammar: integersWithoutExponent(generated.grammar),
      stopGenerationTriggers: generated.stopGenerationTriggers,
      trimWhitespaceSuffix: generated.trimWhitespaceSuffix,
      rootRuleName: generated.rootRuleName
    })
  } catch (err) {
    throw new DriaError(EngineErrorCode.UNSUPPORTED_RESPONSE_FORMAT, `json_schema cannot be enforced: ${(err as Error).message}`, {
      param: 'body.response_format.json_schema.schema', cause: err
    })
  }
}

/** A grammar is immutable (each generation keeps its own evaluation state), so one serves every line with its schema. */
async function schemaGrammar (llama: Llama, schema: Record<string, unknown>): Promise<LlamaGrammar> {
  const cache = schemaGrammars.get(llama) ?? new Map<string, Promise<LlamaGrammar>>()
  schemaGrammars.set(llama, cache)
  const key = JSON.stringify(schema)
  let grammar = cache.get(key)
  if (grammar === undefined) {
    if (cache.size >= MAX_CACHED_GRAMMARS) cache.clear()
    grammar = compileSchemaGrammar(llama, schema)
    cache.set(key, grammar)
  }
  return await grammar
}

async function grammarFor (llama: Llama, format: SamplingParams['responseFormat']): Promise<LlamaGrammar | undefined> {
  switch (format?.type) {
    case undefined:
    case 'text':
      return undefined
    case 'json_object':
      return await llama.getGrammarFor('json')
    case 'json_schema':
      return await schemaGrammar(llama, format.schema)
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
