/** JSON schemas of the OpenAI objects the API returns (they also make serialization fast). */
import { MAX_FILE_PAGE } from './constants.js'

const nullableInt = { type: ['integer', 'null'] } as const
const nullableString = { type: ['string', 'null'] } as const

export const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { message: { type: 'string' }, type: { type: 'string' }, param: nullableString, code: nullableString }
    }
  }
} as const

export const fileSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    object: { type: 'string' },
    bytes: { type: 'integer' },
    created_at: { type: 'integer' },
    filename: { type: 'string' },
    purpose: { type: 'string' },
    status: { type: 'string' },
    expires_at: nullableInt,
    status_details: nullableString
  }
} as const

export const batchSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    object: { type: 'string' },
    endpoint: { type: 'string' },
    errors: {
      type: ['object', 'null'],
      properties: {
        object: { type: 'string' },
        data: {
          type: 'array',
          items: {
            type: 'object',
            properties: { code: { type: 'string' }, message: { type: 'string' }, param: nullableString, line: nullableInt }
          }
        },
        total: { type: 'integer' }
      }
    },
    input_file_id: { type: 'string' },
    completion_window: { type: 'string' },
    model: nullableString,
    status: { type: 'string' },
    output_file_id: nullableString,
    error_file_id: nullableString,
    created_at: { type: 'integer' },
    in_progress_at: nullableInt,
    expires_at: nullableInt,
    finalizing_at: nullableInt,
    completed_at: nullableInt,
    failed_at: nullableInt,
    expired_at: nullableInt,
    cancelling_at: nullableInt,
    cancelled_at: nullableInt,
    request_counts: {
      type: 'object',
      properties: { total: { type: 'integer' }, completed: { type: 'integer' }, failed: { type: 'integer' } }
    },
    metadata: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
    usage: {
      type: 'object',
      properties: {
        input_tokens: { type: 'integer' },
        output_tokens: { type: 'integer' },
        total_tokens: { type: 'integer' },
        input_tokens_details: { type: 'object', properties: { cached_tokens: { type: 'integer' } } },
        output_tokens_details: { type: 'object', properties: { reasoning_tokens: { type: 'integer' } } }
      }
    }
  }
} as const

/** A whole list (`{object: "list", data}`), as `/v1/models` returns. */
export function listOf (item: object): object {
  return { type: 'object', properties: { object: { type: 'string' }, data: { type: 'array', items: item } } }
}

/** OpenAI cursor page: `first_id`, `last_id` and `has_more` are always present. */
export function listSchema (item: object): object {
  return {
    type: 'object',
    properties: {
      object: { type: 'string' },
      data: { type: 'array', items: item },
      first_id: nullableString,
      last_id: nullableString,
      has_more: { type: 'boolean' }
    }
  }
}

/** Ids of any length are looked up: an unknown one is a 404, as at OpenAI. */
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1 } }
} as const

/** `{anchor: "created_at", seconds}`: OpenAI's `expires_after` / `output_expires_after`. */
export function expiresAfterSchema (min: number, max: number): { type: string | string[], required: string[], additionalProperties: false, properties: object } {
  return {
    type: 'object',
    required: ['anchor', 'seconds'],
    additionalProperties: false,
    properties: {
      anchor: { type: 'string', enum: ['created_at'] },
      seconds: { type: 'integer', minimum: min, maximum: max }
    }
  }
}

export const pageQuery = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: MAX_FILE_PAGE },
    after: { type: 'string', maxLength: 200 },
    order: { type: 'string', enum: ['asc', 'desc'] },
    purpose: { type: 'string', maxLength: 64 }
  }
} as const

export function withErrors (responses: Record<number, object>): Record<number | string, object> {
  return { ...responses, '4xx': errorSchema, '5xx': errorSchema }
}
