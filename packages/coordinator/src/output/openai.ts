import type { EmbeddingResult, FinishReason, GenerationResult } from '@dria/protocol'
import type { ErrorOutput, SuccessOutput } from './types.js'

interface Usage { prompt_tokens: number, completion_tokens: number, total_tokens: number }

export interface ChatCompletionBody {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  choices: Array<{
    index: number
    message: { role: 'assistant', content: string, refusal: null }
    logprobs: null
    finish_reason: FinishReason
  }>
  usage: Usage
  system_fingerprint?: string
}

export interface TextCompletionBody {
  id: string
  object: 'text_completion'
  created: number
  model: string
  choices: Array<{ text: string, index: number, logprobs: null, finish_reason: FinishReason }>
  usage: Usage
  system_fingerprint?: string
}

export interface EmbeddingListBody {
  object: 'list'
  data: Array<{ object: 'embedding', index: number, embedding: number[] }>
  model: string
  usage: { prompt_tokens: number, total_tokens: number }
}

type Context = Pick<SuccessOutput, 'requestId' | 'model' | 'created' | 'modelDigest'>

function usage (result: GenerationResult): Usage {
  const { promptTokens, completionTokens } = result.usage
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens }
}

/** OpenAI's fingerprint names the backend configuration: here, the model file. */
function fingerprint (modelDigest: string | undefined): { system_fingerprint?: string } {
  if (modelDigest === undefined || modelDigest === '') return {}
  // 'sha256:<hex>' → 'fp_<first 12 hex digits>'
  const hex = modelDigest.slice(modelDigest.indexOf(':') + 1)
  return { system_fingerprint: `fp_${hex.slice(0, 12)}` }
}

export function chatCompletionBody (context: Context, result: GenerationResult): ChatCompletionBody {
  return {
    id: `chatcmpl-${context.requestId}`,
    object: 'chat.completion',
    created: context.created,
    model: context.model,
    choices: [{
      index: 0,
      message: { role: 'assistant', content: result.text, refusal: null },
      logprobs: null,
      finish_reason: result.finishReason
    }],
    usage: usage(result),
    ...fingerprint(context.modelDigest)
  }
}

export function textCompletionBody (context: Context, result: GenerationResult): TextCompletionBody {
  return {
    id: `cmpl-${context.requestId}`,
    object: 'text_completion',
    created: context.created,
    model: context.model,
    choices: [{ text: result.text, index: 0, logprobs: null, finish_reason: result.finishReason }],
    usage: usage(result),
    ...fingerprint(context.modelDigest)
  }
}

export function embeddingListBody (context: Context, result: EmbeddingResult): EmbeddingListBody {
  return {
    object: 'list',
    data: result.embeddings.map((embedding, index) => ({ object: 'embedding', index, embedding })),
    model: context.model,
    usage: { prompt_tokens: result.usage.promptTokens, total_tokens: result.usage.promptTokens }
  }
}

function responseBody (output: SuccessOutput): ChatCompletionBody | TextCompletionBody | EmbeddingListBody {
  switch (output.kind) {
    case 'chat': return chatCompletionBody(output, output.result)
    case 'completion': return textCompletionBody(output, output.result)
    case 'embedding': return embeddingListBody(output, output.result)
  }
}

/** One line of an OpenAI batch output file (BatchRequestOutput with a 200 response). */
export function openaiOutputLine (output: SuccessOutput): string {
  return JSON.stringify({
    id: `batch_req_${output.requestId}`,
    custom_id: output.customId,
    response: { status_code: 200, request_id: output.requestId, body: responseBody(output) },
    error: null
  })
}

/** One line of an OpenAI batch error file: a failed response, or no response at all. */
export function openaiErrorLine (output: ErrorOutput): string {
  const { code, message } = output
  return JSON.stringify({
    id: `batch_req_${output.requestId}`,
    custom_id: output.customId,
    response: output.level === 'batch'
      ? null
      : {
          status_code: output.statusCode,
          request_id: output.requestId,
          body: {
            error: {
              message,
              type: output.type ?? (output.statusCode >= 500 ? 'server_error' : 'invalid_request_error'),
              param: output.param ?? null,
              code
            }
          }
        },
    error: output.level === 'batch' ? { code, message } : null
  })
}
