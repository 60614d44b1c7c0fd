import { DriaError } from '@dria/protocol'

/** HTTP status of each coded error the API can return; anything else is a 500. */
export const ERROR_STATUS: Readonly<Record<string, number>> = {
  invalid_api_key: 401,
  invalid_admin_token: 401,
  invalid_signature: 403,
  url_expired: 403,
  not_found: 404,
  file_not_found: 404,
  batch_not_found: 404,
  key_not_found: 404,
  upload_not_found: 404,
  invalid_request_error: 400,
  missing_required_parameter: 400,
  invalid_value: 400,
  invalid_type: 400,
  unknown_parameter: 400,
  invalid_file: 400,
  file_not_uploaded: 400,
  invalid_webhook_url: 400,
  file_too_large: 413,
  batch_wrong_status: 409,
  file_in_use: 409,
  rate_limit_exceeded: 429,
  quota_exceeded: 429,
  too_many_batches: 429,
  too_many_files: 429,
  too_many_streams: 503,
  blob_store_unavailable: 503
}

export function apiError (code: string, message: string, param?: string): DriaError {
  return new DriaError(code, message, { param })
}

export function notFound (what: 'file' | 'batch', id: string): DriaError {
  return apiError(`${what}_not_found`, `No ${what} found with id '${id}'.`)
}

/** A limit of the caller's plan was hit; `retryAfterSeconds` becomes the `retry-after` header. */
export class LimitError extends DriaError {
  readonly retryAfterSeconds?: number

  constructor (code: string, message: string, retryAfterSeconds?: number) {
    super(code, message, { retryable: retryAfterSeconds !== undefined })
    this.retryAfterSeconds = retryAfterSeconds
  }
}
