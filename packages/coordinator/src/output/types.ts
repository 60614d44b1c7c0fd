import type { InferenceResult } from '@dria/protocol'

/**
 * What every output line is built from. Ids in the line derive from `requestId` only, so
 * assembling the same results again (after a crash) writes identical files.
 */
export interface OutputContext {
  customId: string
  /** Stable id of the request's result (the task id); the line's ids derive from it. */
  requestId: string
  model: string
}

/** A successful request. */
export type SuccessOutput = OutputContext & InferenceResult & {
  /** Unix seconds the result was produced. */
  created: number
  /** Digest of the model file that answered; becomes the `system_fingerprint`. */
  modelDigest?: string
  /** Characters of a completion's prompt: where its logprobs' `text_offset` starts. */
  promptLength?: number
  /** Embeddings as base64 float32 (`encoding_format: "base64"`). */
  base64?: boolean
}

/**
 * A failed request. `request` failures are the request's own answer (a 4xx/5xx response);
 * `batch` failures mean the request never got one (`batch_expired`, `batch_cancelled`,
 * `node_failure`…).
 */
export type ErrorOutput = OutputContext & { code: string, message: string } & (
  | {
    level: 'request'
    statusCode: number
    param?: string | null
    /** OpenAI error type; default `server_error` for 5xx, `invalid_request_error` otherwise. */
    type?: string
  }
  | { level: 'batch' }
)
