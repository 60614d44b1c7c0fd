import type { TaskKindName } from '@dria/protocol'

/** Which of the accepted line shapes a request came in: it decides the output line shape. */
export type LineFormat = 'openai' | 'dria' | 'prompt'

/** Why one request line cannot run: it gets this 400 in the error file while the others run. */
export interface LineFailure {
  code: string
  message: string
  /** The field at fault, relative to the request body (`temperature`, `messages[0].role`). */
  param: string | null
}

export interface TaskSpec {
  /** 1-based line number in the input file. */
  line: number
  customId: string
  kind: TaskKindName
  model: string
  /** Normalized OpenAI request body as JSON; always has `model`. Empty when `failure` is set. */
  body: string
  format: LineFormat
  /** Set when the request body is invalid: the line is answered with this 400 and never runs. */
  failure?: LineFailure
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
  /** When given, lines asking for a model not in it fail with `model_not_found`. */
  servedModels?: readonly string[]
  /** Where duplicate detection keeps its scratch files (created, then removed). Default: a new dir in the OS temp dir. */
  scratchDir?: string
  signal?: AbortSignal
}

export interface IngestSummary {
  /** Request (non-blank) lines read. */
  lines: number
  /** Lines that will run, whether or not they were passed to `onTasks`. */
  tasks: number
  /** Lines answered with their own 400 (`TaskSpec.failure`). */
  failed: number
  /** The first `maxErrors` file-level errors in line order. */
  errors: LineError[]
  /** All file-level errors; the file is valid when this is 0. */
  errorCount: number
  /** Distinct models of the lines that will run, sorted. */
  models: string[]
  /** Bytes read. */
  bytes: number
}
