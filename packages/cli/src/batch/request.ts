import type { MediaCapability } from '@dria/protocol'
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions'
import type { ResponseFormatJSONSchema } from 'openai/resources/shared'
import type { Attachment } from './attachments.js'
import type { PromptLine } from './input.js'

export interface RequestOptions {
  maxTokens: number
  temperature: number
  /** Structured output (`--schema`, `--schema-file`). */
  responseFormat?: ResponseFormatJSONSchema
}

export const MEDIA_WORDS: Readonly<Record<MediaCapability, string>> = { vision: 'images', audio: 'audio' }

/** The chat request for one line: its prompt, and its attachment as a content part. */
export function chatRequest (model: string, line: PromptLine, attachment: Attachment | undefined, options: RequestOptions): ChatCompletionCreateParamsNonStreaming {
  const content = attachment === undefined ? line.prompt : [{ type: 'text' as const, text: line.prompt }, attachment.part]
  return {
    model,
    messages: [{ role: 'user', content }],
    max_tokens: options.maxTokens,
    temperature: options.temperature,
    ...(options.responseFormat === undefined ? {} : { response_format: options.responseFormat })
  }
}

/** A completion's `output`: its text, or with a schema the parsed object. */
export function outputOf (completion: Pick<ChatCompletion, 'choices'>, structured: boolean): { output: unknown } | { error: string } {
  const choice = completion.choices[0]
  const text = choice?.message.content ?? ''
  if (!structured) return { output: text }
  try {
    return { output: JSON.parse(text) }
  } catch {
    return { error: `the output is not valid JSON${choice?.finish_reason === 'length' ? ' (cut at --max-tokens)' : ''}` }
  }
}
