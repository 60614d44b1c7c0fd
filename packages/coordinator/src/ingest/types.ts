import type { TaskKindName } from '@dria/protocol'

/** Which of the accepted line shapes a request came in: it decides the output line shape. */
export type LineFormat = 'openai' | 'dria' | 'prompt'

export interface TaskSpec {
  /** 1-based line number in the input file. */
  line: number
  customId: string
  kind: TaskKindName
  model: string
  /** Normalized OpenAI request body as JSON; always has `model`. */
  body: string
  format: LineFormat
}

export interface LineError {
  /** 1-based line number, or null for errors about the whole file. */
  line: number | null
  code: string
  message: string
  param: string | null
}

export interface IngestOptions {
  /** Batch endpoint: /v1/chat/completions, /v1/completions or /v1/embeddings. */
  endpoint: string
  /** Model for prompt-only lines (and Dria lines without one): the batch's `metadata.model`. */
  defaultModel?: string
  /** Most request lines a file may have. Default DEFAULT_MAX_LINES_PER_FILE (100,000). */
  maxLines?: number
  /** Errors kept in the summary; later ones are only counted. Default 100. */
  maxErrors?: number
  /** When given, lines asking for a model it rejects fail with `model_not_found`. */
  isModelServed?: (model: string) => boolean
  signal?: AbortSignal
}

export interface IngestSummary {
  /** Request (non-blank) lines read. */
  lines: number
  /** Valid lines, whether or not they were passed to `onTasks`. */
  tasks: number
  /** The first `maxErrors` errors in line order. */
  errors: LineError[]
  /** All errors; the file is valid when this is 0. */
  errorCount: number
  /** Distinct models of the valid lines, sorted. */
  models: string[]
  /** Bytes read. */
  bytes: number
}
