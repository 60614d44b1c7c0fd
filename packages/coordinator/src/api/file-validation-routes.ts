import type { FastifyInstance } from 'fastify'
import { kindOfEndpoint } from '@dria/protocol'
import { apiError } from '../errors.js'
import type { FileService } from '../files/index.js'
import { ingestFile } from '../ingest/index.js'
import type { NetworkView } from '../network/index.js'
import type { Authenticator } from './auth.js'
import { idParams, withErrors } from './schemas.js'

const validationSchema = {
  type: 'object',
  properties: {
    object: { type: 'string' },
    file_id: { type: 'string' },
    valid: { type: 'boolean' },
    lines: { type: 'integer' },
    requests: { type: 'integer' },
    error_count: { type: 'integer' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: { line: { type: ['integer', 'null'] }, code: { type: 'string' }, message: { type: 'string' }, param: { type: ['string', 'null'] } }
      }
    },
    models: { type: 'array', items: { type: 'string' } }
  }
} as const

/**
 * A dry run of batch validation: the checks `POST /v1/batches` makes (with the caller's plan
 * limits and the models the network serves now), reported with line numbers, nothing started.
 */
export function registerFileValidationRoutes (app: FastifyInstance, components: { files: FileService, network: NetworkView, auth: Authenticator }): void {
  const { files, network, auth } = components

  app.post<{ Params: { id: string }, Body: { endpoint: string, model?: string } }>('/api/v0/files/:id/validate', {
    schema: {
      params: idParams,
      body: {
        type: 'object',
        required: ['endpoint'],
        additionalProperties: false,
        properties: { endpoint: { type: 'string', maxLength: 100 }, model: { type: 'string', minLength: 1, maxLength: 256 } }
      },
      response: withErrors({ 200: validationSchema })
    }
  }, async (request) => {
    const { keyId, limits } = await auth.authenticate(request)
    const { endpoint, model } = request.body
    if (kindOfEndpoint(endpoint) === undefined) {
      throw apiError('invalid_endpoint', `Unsupported endpoint '${endpoint}'; use /v1/chat/completions, /v1/completions or /v1/embeddings.`, 'endpoint')
    }
    const file = await files.get(keyId, request.params.id)
    if (file.purpose !== 'batch') throw apiError('invalid_file', `File '${file.id}' has purpose '${file.purpose}', expected 'batch'.`, 'id')
    const { path, release } = await files.localCopy(file.id)
    const summary = await ingestFile(path, {
      endpoint,
      defaultModel: model,
      maxLines: limits.tasksPerFile,
      servedModels: network.servedModels()
    }, async () => {}).finally(release)
    // As the batch would: lines answered with their own 400 still make a runnable file.
    const empty = summary.errorCount === 0 && summary.tasks + summary.failed === 0
    return {
      object: 'file.validation',
      file_id: file.id,
      valid: summary.errorCount === 0 && !empty,
      lines: summary.lines,
      requests: summary.tasks,
      error_count: empty ? 1 : summary.errorCount,
      errors: empty ? [{ line: null, code: 'empty_file', message: 'The input file has no requests.', param: null }] : summary.errors,
      models: summary.models
    }
  })
}
