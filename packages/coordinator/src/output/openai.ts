import type { EmbeddingResult, FinishReason, GenerationResult, TokenLogprob } from '@dria/protocol'
import type { ErrorOutput, SuccessOutput } from './types.js'

interface Usage { prompt_tokens: number, completion_tokens: number, total_tokens: number }

interface TopLogprob { token: string, logprob: number, bytes: number[] | null }

/** OpenAI's `choices[i].logprobs` of a chat completion. */
export interface ChatLogprobs {
  content: Array<TopLogprob & { top_logprobs: TopLogprob[] }>
  refusal: null
}

/** OpenAI's legacy `choices[i].logprobs` of a text completion. */
export interface CompletionLogprobs {
  tokens: string[]
  token_logprobs: number[]
  top_logprobs: Array<Record<string, number>>
  text_offset: number[]
}

export interface ChatCompletionBody {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  choices: Array<{
    index: number
    message: { role: 'assistant', content: string, refusal: null }
    logprobs: ChatLogprobs | null
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
  choices: Array<{ text: string, index: number, logprobs: CompletionLogprobs | null, finish_reason: FinishReason }>
  usage: Usage
  system_fingerprint?: string
}

export interface EmbeddingListBody {
  object: 'list'
  /** `embedding` is a base64 string of little-endian float32 values when the request asked for `encoding_format: "base64"`. */
  data: Array<{ object: 'embedding', index: number, embedding: number[] | string }>
  model: string
  usage: { prompt_tokens: number, total_tokens: number }
}

type Context = Pick<SuccessOutput, 'requestId' | 'model' | 'created' | 'modelDigest' | 'promptLength' | 'base64'>

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

export function chatLogprobs (logprobs: TokenLogprob[]): ChatLogprobs {
  return {
    content: logprobs.map(t => ({
      token: t.token,
      logprob: t.logprob,
      bytes: t.bytes,
      top_logprobs: t.topLogprobs.map(top => ({ token: top.token, logprob: top.logprob, bytes: top.bytes }))
    })),
    refusal: null
  }
}

/** `text_offset` counts characters from the start of the prompt, as OpenAI's does without `echo`. */
export function completionLogprobs (logprobs: TokenLogprob[], promptLength: number): CompletionLogprobs {
  const textOffset: number[] = []
  let offset = promptLength
  for (const t of logprobs) {
    textOffset.push(offset)
    offset += t.token.length
  }
  return {
    tokens: logprobs.map(t => t.token),
    token_logprobs: logprobs.map(t => t.logprob),
    top_logprobs: logprobs.map(t => Object.fromEntries(t.topLogprobs.map(top => [top.token, top.logprob]))),
    text_offset: textOffset
  }
}

/** Little-endian float32 values, base64: OpenAI's `encoding_format: "base64"`. */
export function base64Embedding (embedding: number[]): string {
  const bytes = Buffer.alloc(embedding.length * 4)
  embedding.forEach((value, i) => bytes.writeFloatLE(value, i * 4))
  return bytes.toString('base64')
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
      logprobs: result.logprobs === undefined ? null : chatLogprobs(result.logprobs),
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
    choices: [{ text: result.text, index: 0, logprobs: result.logprobs === undefined ? null : completionLogprobs(result.logprobs, context.promptLength ?? 0), finish_reason: result.finishReason }],
    usage: usage(result),
    ...fingerprint(context.modelDigest)
  }
}

export function embeddingListBody (context: Context, result: EmbeddingResult): EmbeddingListBody {
  return {
    object: 'list',
    data: result.embeddings.map((embedding, index) => ({ object: 'embedding', index, embedding: context.base64 === true ? base64Embedding(embedding) : embedding })),
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
