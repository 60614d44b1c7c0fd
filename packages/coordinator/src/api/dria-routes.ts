import type { FastifyInstance } from 'fastify'
import { isDriaError } from '@dria/protocol'
import type { DriaError } from '@dria/protocol'
import type { Keyring } from '../accounts/index.js'
import { toBatchObject } from '../batches/index.js'
import type { BatchService } from '../batches/index.js'
import { apiError } from '../errors.js'
import { checkBatchUpload } from '../files/index.js'
import type { FileService, UploadSlots } from '../files/index.js'
import type { BatchRecord, FileRecord, Store, UploadSlot } from '../store/index.js'
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
    errors: { type: ['array', 'null'], items: { type: 'object', additionalProperties: true } },
    errors_total: { type: 'integer' }
  }
} as const

/** Where links the API hands out point, and how long download links stay valid. */
export interface Links {
  publicUrl: () => string
  ttlSeconds: number
}

export interface DriaRouteComponents {
  store: Store
  files: FileService
  uploads: UploadSlots
  batches: BatchService
  auth: Authenticator
  keyring: Keyring
  links: Links
}

const signedData = (fileId: string, expires: number): string => `${fileId}\n${expires}`

/**
 * Dria's upload flow, for existing Dria scripts: ask for an upload URL, PUT the file to it,
 * start processing with `complete_upload`, poll `batch/job`, download `result_url` with a plain
 * GET. Upload and download URLs carry their own authorization (a single-use token; an
 * expiring HMAC signature, like an S3 pre-signed URL), so they need no key.
 */
export function registerDriaRoutes (app: FastifyInstance, components: DriaRouteComponents): void {
  const { store, files, uploads, batches, auth, keyring, links } = components
  /** `owner file` pairs a complete_upload is starting a batch for right now. */
  const starting = new Set<string>()

  /** The batch started for an owner's file (the newest, if an OpenAI client started others too). */
  async function batchOfFile (owner: string, fileId: string): Promise<BatchRecord | undefined> {
    const found = await store.batches.findByRef(owner, fileId)
    const newest = found[found.length - 1]
    return newest === undefined ? undefined : await batches.get(owner, newest.id)
  }

  /** A pre-signed GET of the blob store when clients can reach it, else a link the coordinator signs and serves. */
  async function downloadUrl (fileId: string | null): Promise<string | null> {
    if (fileId === null) return null
    if (files.direct) {
      const record = await store.files.get(fileId)
      return record === undefined ? null : await files.downloadUrl(record, links.ttlSeconds) ?? null
    }
    const expires = Math.floor(Date.now() / 1000) + links.ttlSeconds
    const signature = keyring.sign(signedData(fileId, expires))
    return `${links.publicUrl()}/api/v0/files/${encodeURIComponent(fileId)}/download?expires=${expires}&signature=${signature}`
  }

  async function jobOf (fileId: string, batch: BatchRecord): Promise<Record<string, unknown>> {
    const object = toBatchObject(batch)
    const errors = object.errors?.data ?? null
    return {
      file_id: fileId,
      batch_id: object.id,
      status: object.status,
      request_counts: object.request_counts,
      result_url: await downloadUrl(object.output_file_id),
      error_url: await downloadUrl(object.error_file_id),
      errors,
      errors_total: object.errors?.total ?? errors?.length ?? 0
    }
  }

  app.get('/api/v0/file/get_upload_url', {
    schema: { response: withErrors({ 200: { type: 'object', properties: { url: { type: 'string' }, id: { type: 'string' }, expires_at: { type: 'integer' } } } }) }
  }, async (request) => {
    const { keyId, limits } = await auth.authenticate(request)
    await files.checkDailyUploads(keyId, limits.filesPerDay)
    const slot = await uploads.open(keyId, limits)
    // With S3 the client PUTs straight to the bucket; complete_upload then validates and stores it.
    const direct = await files.uploadUrl(slot.fileId, slot.expires_at - Math.floor(Date.now() / 1000))
    return { url: direct ?? `${links.publicUrl()}/api/v0/upload/${slot.id}`, id: slot.fileId, expires_at: slot.expires_at }
  })

  /**
   * Stores the body `receive` brings in as the slot's file, once: the slot is claimed while this
   * runs and used up only when the file is stored; a failed upload leaves the URL usable.
   */
  async function storeUpload (token: string, receive: (slot: UploadSlot) => Promise<string>): Promise<FileRecord> {
    const { slot, consume, release } = await uploads.claim(token)
    let temp: string | undefined
    try {
      // Checked again here: several URLs handed out before any upload would each pass the first check.
      const unreserve = await files.reserveDailyUpload(slot.owner, slot.filesPerDay ?? Number.POSITIVE_INFINITY)
      try {
        temp = await receive(slot)
        await checkBatchUpload(temp)
        const file = await files.adopt(slot.owner, temp, { filename: slot.filename, purpose: 'batch', id: slot.fileId })
        temp = undefined
        await consume()
        return file
      } finally {
        unreserve()
      }
    } finally {
      release()
      if (temp !== undefined) await files.discard(temp)
    }
  }

  /** The owner's file `id`, stored first from its direct upload when it has only just been PUT to the bucket. */
  async function fileOf (owner: string, id: string): Promise<FileRecord> {
    try {
      return await files.get(owner, id)
    } catch (err) {
      const slot = files.direct && isDriaError(err, 'file_not_found') ? await uploads.findByFile(owner, id) : undefined
      if (slot === undefined) throw err
      const file = await storeUpload(slot.id, async () => await files.receiveUploaded(id, slot.maxBytes))
      // The file is stored: an upload left behind by a failure here is swept later.
      await files.discardUploaded(id).catch(() => {})
      return file
    }
  }

  // The body is streamed to disk as it arrives, whatever its content type.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_request, _payload, done) => { done(null) })
    scope.put<{ Params: { token: string } }>('/api/v0/upload/:token', {
      schema: { params: { type: 'object', properties: { token: { type: 'string', maxLength: 64 } } } }
    }, async (request) => {
      const file = await storeUpload(request.params.token, async (slot) => await files.receive(request.raw, slot.maxBytes))
      return { id: file.id, bytes: file.bytes }
    })
  })

  app.get<{ Params: { id: string }, Querystring: { expires: number, signature: string } }>('/api/v0/files/:id/download', {
    schema: {
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } },
      querystring: { type: 'object', required: ['expires', 'signature'], properties: { expires: { type: 'integer' }, signature: { type: 'string', maxLength: 128 } } }
    }
  }, async (request, reply) => {
    const { id } = request.params
    const { expires, signature } = request.query
    if (!keyring.verify(signedData(id, expires), signature)) throw apiError('invalid_signature', 'The download URL is not valid: its signature does not match.')
    if (expires < Date.now() / 1000) throw apiError('url_expired', 'The download URL has expired: poll batch/job for a fresh one.')
    const record = await store.files.get(id)
    if (record === undefined) throw apiError('file_not_found', `No file found with id '${id}'.`)
    const { stream } = await files.open(record.owner, id)
    return await reply
      .header('content-type', 'application/jsonl')
      .header('content-length', record.bytes)
      .send(stream)
  })

  app.post<{ Body: { id: string, model?: string, endpoint?: string } }>('/api/v0/batch/complete_upload', {
    schema: {
      body: {
        type: 'object',
        required: ['id'],
        properties: { id: { type: 'string', maxLength: 512 }, model: { type: 'string', maxLength: 256 }, endpoint: { type: 'string', maxLength: 512 } }
      },
      response: withErrors({ 200: jobSchema })
    }
  }, async (request) => {
    const { keyId, limits } = await auth.authenticate(request)
    const { id, model, endpoint = '/v1/chat/completions' } = request.body
    // Taken before anything is awaited: simultaneous calls for one file cannot both pass.
    const lock = `${keyId}\x00${id}`
    const processing = (): DriaError => apiError('batch_wrong_status', `File '${id}' is already being processed.`)
    if (starting.has(lock)) throw processing()
    starting.add(lock)
    try {
      await fileOf(keyId, id) // someone else's file is a 404, exactly like an unknown one
      if (await batchOfFile(keyId, id) !== undefined) throw processing()
      const batch = await batches.create(keyId, {
        input_file_id: id,
        endpoint,
        completion_window: '24h',
        metadata: model === undefined ? null : { model }
      }, limits)
      return await jobOf(id, batch)
    } finally {
      starting.delete(lock)
    }
  })

  app.get<{ Querystring: { file_id: string } }>('/api/v0/batch/job', {
    schema: {
      querystring: { type: 'object', required: ['file_id'], properties: { file_id: { type: 'string', maxLength: 512 } } },
      response: withErrors({ 200: jobSchema })
    }
  }, async (request) => {
    const { keyId } = await auth.authenticate(request)
    const fileId = request.query.file_id
    const uploaded = { file_id: fileId, batch_id: null, status: 'uploaded', request_counts: null, result_url: null, error_url: null, errors: null, errors_total: 0 }
    try {
      await files.get(keyId, fileId) // 404 when the file is unknown, or someone else's
    } catch (err) {
      // A direct upload sits in the bucket until complete_upload stores it as the file.
      if (files.direct && isDriaError(err, 'file_not_found') && await uploads.findByFile(keyId, fileId) !== undefined && await files.hasUploaded(fileId)) return uploaded
      throw err
    }
    const batch = await batchOfFile(keyId, fileId)
    if (batch !== undefined) return await jobOf(fileId, batch)
    return uploaded
  })

  app.get('/api/v0/webhooks/secret', {
    schema: { response: withErrors({ 200: { type: 'object', properties: { object: { type: 'string' }, secret: { type: 'string' } } } }) }
  }, async (request) => {
    const { keyId } = await auth.authenticate(request)
    return { object: 'webhook_secret', secret: keyring.webhookSecret(keyId) }
  })
}
