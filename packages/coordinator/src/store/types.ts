import type { TaskKindName } from '@dria/protocol'

export type FilePurpose = 'batch' | 'batch_output'

/** OpenAI `file` object plus where the body lives and who owns it. */
export interface FileRecord {
  id: string
  object: 'file'
  bytes: number
  created_at: number
  filename: string
  purpose: FilePurpose
  status: 'uploaded' | 'processed' | 'error'
  owner: string
  /** Unix seconds after which the file is deleted (`expires_after`); absent or null: kept. */
  expires_at?: number | null
}

/** A single-use, expiring upload URL (Dria's upload flow). `id` is the secret token in the URL. */
export interface UploadSlot {
  id: string
  owner: string
  /** The file id the upload becomes. */
  fileId: string
  filename: string
  expires_at: number
  /** The uploader's plan limit on file size. */
  maxBytes: number
  /** The uploader's plan limit on batch files per day; null when unlimited (JSON has no Infinity). */
  filesPerDay: number | null
}

export type BatchStatus =
  | 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed'
  | 'expired' | 'cancelling' | 'cancelled'

export interface RequestCounts { total: number, completed: number, failed: number }

export interface BatchError { code: string, message: string, param: string | null, line: number | null }

export interface BatchUsage {
  input_tokens: number
  output_tokens: number
  total_tokens: number
  input_tokens_details?: { cached_tokens: number }
  output_tokens_details?: { reasoning_tokens: number }
}

/** OpenAI `batch` object. */
export interface BatchObject {
  id: string
  object: 'batch'
  endpoint: string
  /** `total` counts every error; `data` lists the first 100. */
  errors: { object: 'list', data: BatchError[], total?: number } | null
  input_file_id: string
  completion_window: string
  status: BatchStatus
  output_file_id: string | null
  error_file_id: string | null
  created_at: number
  in_progress_at: number | null
  expires_at: number
  finalizing_at: number | null
  completed_at: number | null
  failed_at: number | null
  expired_at: number | null
  cancelling_at: number | null
  cancelled_at: number | null
  request_counts: RequestCounts
  metadata: Record<string, string> | null
  usage: BatchUsage
  /** The model the lines ask for (several: comma-separated); null until validated. */
  model?: string | null
}

export interface BatchRecord extends BatchObject {
  owner: string
  webhookUrl: string | null
  /** Set once the final-status webhook was acknowledged. */
  webhookDelivered?: boolean
  /** Models the batch's lines ask for (known once validated). */
  models: string[]
  /** Most lines the input may have (the creator's plan when the batch was created). */
  maxLines: number
  /**
   * Set once the input was split into rows and the counts saved: a batch cancelled while
   * validating is only stopped after that, so no line is lost to a crash in between.
   */
  validated?: boolean
  /** Output and error files expire this long after they are written (`output_expires_after`). */
  outputExpiresAfterSeconds?: number | null
  /** Ids the output and error files get, chosen before they are written. */
  resultFileIds?: { output: string, error: string }
}

export type TaskState = 'pending' | 'assigned' | 'completed' | 'failed'

/** A successful, verified engine result. */
export interface TaskOutcome {
  /** Engine output JSON as the node sent it: {text, finish_reason} | {embeddings}. */
  output: string
  promptTokens: number
  completionTokens: number
  peer: string
  modelDigest: string
  /** Base64 node signature over the result: the receipt. */
  signature: string
  finishedAt: number
  /** How the node chose tokens (`dria-1`: reproducible from the seed). */
  sampler?: string
  /** Nodes whose verification of this result passed it (scoring or re-execution). */
  auditedBy?: string[]
  /** Accepted without a check no node could do (`--accept-unverified`). */
  unchecked?: boolean
}

export interface TaskFailure {
  code: string
  message: string
  /** HTTP status for request-level failures (the line's `response`); absent for batch-level ones. */
  status?: number
  param?: string | null
}

export interface TaskRow {
  batchId: string
  index: number
  line: number
  customId: string
  kind: TaskKindName
  model: string
  body: string
  /** Input line format; results are written back in the matching shape. */
  format: 'openai' | 'dria' | 'prompt'
  state: TaskState
  attempts: number
  peer?: string
  outcome?: TaskOutcome
  failure?: TaskFailure
}
