import type { FastifyInstance, FastifyRequest } from 'fastify'
import { toBatchObject } from '../batches/index.js'
import type { BatchService } from '../batches/index.js'
import { apiError } from '../errors.js'
import type { FileService, UploadSlots } from '../files/index.js'
import type { BatchRecord, Store } from '../store/index.js'
import type { Authenticator } from './auth.js'
import { withErrors } from './schemas.js'

const jobSchema = {
  type: 'object',
  properties: {
    file_id: { type: 'string' },
    batch_id: { type: ['string', 'null'] },
    status: { type: 'string' },
    request_counts: { type: ['object', 'null'], properties: { total: { type: 'integer' }, completed: { type: 'integer' }, failed: { type: 'integer' } } },
    result_url: { type: ['string', 'null'] },
    error_url: { type: ['string', 'null'] },
    errors: { type: ['array', 'null'], items: { type: 'object', additionalProperties: true } }
  }
} as const

function baseUrl (request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`
}

/**
 * Dria's upload flow, for existing Dria scripts: ask for an upload URL, PUT the file to it,
 * start processing with `complete_upload`, poll `batch/job`. The URL carries a secret,
 * single-use, expiring token, so the PUT itself needs no key.
 */
export function registerDriaRoutes (app: FastifyInstance, components: { store: Store, files: FileService, uploads: UploadSlots, batches: BatchService, auth: Authenticator }): void {
  const { store, files, uploads, batches, auth } = components
  /** The batch started for each uploaded file (a file starts at most one). */
  const jobs = new Map<string, string>()

  async function batchOfFile (owner: string, fileId: string): Promise<BatchRecord | undefined> {
    const known = jobs.get(fileId)
    if (known !== undefined) return await batches.get(owner, known)
    for await (const batch of store.batches.newest(owner)) {
      if (batch.input_file_id === fileId) {
        jobs.set(fileId, batch.id)
        return batch
      }
    }
    return undefined
  }

  app.get('/api/v0/file/get_upload_url', {
    schema: { response: withErrors({ 200: { type: 'object', properties: { url: { type: 'string' }, id: { type: 'string' }, expires_at: { type: 'integer' } } } }) }
  }, async (request) => {
    const { keyId, limits } = await auth.authenticate(request)
    await files.checkDailyUploads(keyId, limits.filesPerDay)
    const slot = await uploads.open(keyId, limits)
    return { url: `${baseUrl(request)}/api/v0/upload/${slot.id}`, id: slot.fileId, expires_at: slot.expires_at }
  })

  // The body is streamed to disk as it arrives, whatever its content type.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_request, _payload, done) => { done(null) })
    scope.put<{ Params: { token: string } }>('/api/v0/upload/:token', {
      schema: { params: { type: 'object', properties: { token: { type: 'string', maxLength: 64 } } } }
    }, async (request) => {
      const slot = await uploads.take(request.params.token)
      // Checked again here: several URLs handed out before any upload would each pass the first check.
      const release = await files.reserveDailyUpload(slot.owner, slot.filesPerDay ?? Number.POSITIVE_INFINITY)
      try {
        const temp = await files.receive(request.raw, slot.maxBytes)
        const file = await files.adopt(slot.owner, temp, { filename: slot.filename, purpose: 'batch', id: slot.fileId })
        return { id: file.id, bytes: file.bytes }
      } finally {
        release()
      }
    })
  })

  app.post<{ Body: { id: string, model?: string, endpoint?: string } }>('/api/v0/batch/complete_upload', {
    schema: {
      body: {
        type: 'object',
        required: ['id'],
        properties: { id: { type: 'string', maxLength: 200 }, model: { type: 'string', maxLength: 200 }, endpoint: { type: 'string', maxLength: 200 } }
      },
      response: withErrors({ 200: jobSchema })
    }
  }, async (request) => {
    const { keyId, limits } = await auth.authenticate(request)
    const { id, model, endpoint = '/v1/chat/completions' } = request.body
    if (await batchOfFile(keyId, id) !== undefined) throw apiError('batch_wrong_status', `File '${id}' is already being processed.`)
    const batch = await batches.create(keyId, {
      input_file_id: id,
      endpoint,
      completion_window: '24h',
      metadata: model === undefined ? null : { model }
    }, limits)
    jobs.set(id, batch.id)
    return jobOf(request, id, batch)
  })

  app.get<{ Querystring: { file_id: string } }>('/api/v0/batch/job', {
    schema: {
      querystring: { type: 'object', required: ['file_id'], properties: { file_id: { type: 'string', maxLength: 200 } } },
      response: withErrors({ 200: jobSchema })
    }
  }, async (request) => {
    const { keyId } = await auth.authenticate(request)
    const fileId = request.query.file_id
    const batch = await batchOfFile(keyId, fileId)
    if (batch === undefined) {
      await files.get(keyId, fileId) // 404 when the file is unknown too
      return { file_id: fileId, batch_id: null, status: 'uploaded', request_counts: null, result_url: null, error_url: null, errors: null }
    }
    return jobOf(request, fileId, batch)
  })

  function jobOf (request: FastifyRequest, fileId: string, batch: BatchRecord): Record<string, unknown> {
    const object = toBatchObject(batch)
    const url = (id: string | null): string | null => id === null ? null : `${baseUrl(request)}/v1/files/${id}/content`
    return {
      file_id: fileId,
      batch_id: object.id,
      status: object.status,
      request_counts: object.request_counts,
      result_url: url(object.output_file_id),
      error_url: url(object.error_file_id),
      errors: object.errors?.data ?? null
    }
  }
}
