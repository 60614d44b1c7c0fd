import type { FastifyInstance } from 'fastify'
import { toBatchObject } from '../batches/index.js'
import type { BatchService, CreateBatchParams } from '../batches/index.js'
import type { Authenticator } from './auth.js'
import { MAX_BATCH_PAGE, MAX_EXPIRES_AFTER_SECONDS, MIN_EXPIRES_AFTER_SECONDS } from './constants.js'
import { page } from './pagination.js'
import { batchSchema, expiresAfterSchema, idParams, listSchema, pageQuery, withErrors } from './schemas.js'

/** OpenAI's batch create body; anything else is refused (`unknown_parameter`), never ignored. */
const createBody = {
  type: 'object',
  required: ['input_file_id', 'endpoint', 'completion_window'],
  additionalProperties: false,
  properties: {
    input_file_id: { type: 'string', minLength: 1, maxLength: 512 },
    endpoint: { type: 'string', maxLength: 512 },
    completion_window: { type: 'string', maxLength: 64 },
    metadata: {
      type: ['object', 'null'],
      maxProperties: 16,
      propertyNames: { maxLength: 64 },
      additionalProperties: { type: 'string', maxLength: 512 }
    },
    output_expires_after: { ...expiresAfterSchema(MIN_EXPIRES_AFTER_SECONDS, MAX_EXPIRES_AFTER_SECONDS), type: ['object', 'null'] },
    // Dria's extension: checked (https, public address) by the webhook sender.
    webhook_url: { type: ['string', 'null'], maxLength: 2048 }
  }
} as const

const batchPageQuery = { ...pageQuery, properties: { ...pageQuery.properties, limit: { type: 'integer', minimum: 1, maximum: MAX_BATCH_PAGE } } }

/** OpenAI Batches: create, retrieve, list (newest first), cancel. */
export function registerBatchRoutes (app: FastifyInstance, components: { batches: BatchService, auth: Authenticator }): void {
  const { batches, auth } = components

  app.post<{ Body: CreateBatchParams }>('/v1/batches', {
    schema: { body: createBody, response: withErrors({ 200: batchSchema }) }
  }, async (request) => {
    const { keyId, limits } = await auth.authenticate(request)
    return toBatchObject(await batches.create(keyId, request.body, limits))
  })

  app.get<{ Querystring: { limit?: number, after?: string } }>('/v1/batches', {
    schema: { querystring: batchPageQuery, response: withErrors({ 200: listSchema(batchSchema) }) }
  }, async (request) => {
    const { keyId } = await auth.authenticate(request)
    const { limit = 20, after } = request.query
    const result = await batches.list(keyId, { limit, after, order: 'desc' })
    return page(result.data.map(toBatchObject), result.hasMore)
  })

  app.get<{ Params: { id: string } }>('/v1/batches/:id', {
    schema: { params: idParams, response: withErrors({ 200: batchSchema }) }
  }, async (request) => {
    const { keyId } = await auth.authenticate(request)
    return toBatchObject(await batches.get(keyId, request.params.id))
  })

  app.post<{ Params: { id: string } }>('/v1/batches/:id/cancel', {
    schema: { params: idParams, response: withErrors({ 200: batchSchema }) }
  }, async (request) => {
    const { keyId } = await auth.authenticate(request)
    return toBatchObject(await batches.cancel(keyId, request.params.id))
  })
}
