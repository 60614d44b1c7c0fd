import type { ErrorOutput, SuccessOutput } from './types.js'

/**
 * Dria output line: `{custom_id, model, result, token_count}`. `result` is the generated text,
 * or for embeddings the vector (a list of vectors when the request had several inputs);
 * `token_count` counts generated tokens, or the input tokens of an embedding.
 */
export function driaOutputLine (output: SuccessOutput): string {
  const { customId, model } = output
  if (output.kind === 'embedding') {
    const { embeddings, usage } = output.result
    const result = embeddings.length === 1 ? embeddings[0] : embeddings
    return JSON.stringify({ custom_id: customId, model, result, token_count: usage.promptTokens })
  }
  return JSON.stringify({ custom_id: customId, model, result: output.result.text, token_count: output.result.usage.completionTokens })
}

/**
 * Dria error line: `{custom_id, model, error: {code, message}}` for request and batch failures
 * alike. The error is an object rather than a bare message so clients can branch on the code.
 */
export function driaErrorLine (output: ErrorOutput): string {
  return JSON.stringify({ custom_id: output.customId, model: output.model, error: { code: output.code, message: output.message } })
}
