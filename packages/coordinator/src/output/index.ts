import type { LineFormat } from '../ingest/index.js'
import { driaErrorLine, driaOutputLine } from './dria.js'
import { openaiErrorLine, openaiOutputLine } from './openai.js'
import type { ErrorOutput, SuccessOutput } from './types.js'

export { driaErrorLine, driaOutputLine } from './dria.js'
export { chatCompletionBody, embeddingListBody, openaiErrorLine, openaiOutputLine, textCompletionBody } from './openai.js'
export type { ChatCompletionBody, EmbeddingListBody, TextCompletionBody } from './openai.js'
export type { ErrorOutput, OutputContext, SuccessOutput } from './types.js'

/** Answers come back in the shape their request came in: OpenAI lines get OpenAI lines. */
export function outputLine (format: LineFormat, output: SuccessOutput): string {
  return format === 'openai' ? openaiOutputLine(output) : driaOutputLine(output)
}

export function errorLine (format: LineFormat, output: ErrorOutput): string {
  return format === 'openai' ? openaiErrorLine(output) : driaErrorLine(output)
}
