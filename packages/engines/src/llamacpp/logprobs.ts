import type { Candidate } from '../sampler/index.js'
import type { TokenLogprob } from '@dria/protocol'
import type { LlamaModel, Token } from 'node-llama-cpp'

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/

/** A token's text as it reads after `context`, and its UTF-8 bytes (a byte token's own byte). */
export function tokenText (model: LlamaModel, token: number, context: number[]): { token: string, bytes: number[] } {
  const text = model.detokenize([token as Token], false, context as Token[])
  if (model.getTokenAttributes(token as Token).byte) {
    const match = BYTE_TOKEN.exec(model.fileInfo.metadata.tokenizer.ggml.tokens[token] ?? '')
    if (match !== null) return { token: text, bytes: [Number.parseInt(match[1], 16)] }
  }
  return { token: text, bytes: [...Buffer.from(text, 'utf8')] }
}

/**
 * OpenAI's logprobs entry for `chosen`: natural-log softmax of the raw logits (temperature 1)
 * over the whole vocabulary, and the `top` most likely tokens. `logNormalizer` is
 * `log Σ exp(z)` over the vocabulary; `rawTop` the highest raw logits, highest first.
 */
export function tokenLogprob (
  model: LlamaModel, context: number[], chosen: Candidate, rawTop: Candidate[], logNormalizer: number, top: number
): TokenLogprob {
  return {
    ...tokenText(model, chosen.token, context),
    logprob: chosen.logit - logNormalizer,
    topLogprobs: rawTop.slice(0, top).map(candidate => ({
      ...tokenText(model, candidate.token, context),
      logprob: candidate.logit - logNormalizer
    }))
  }
}
