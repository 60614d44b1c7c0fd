import type { FastifyInstance } from 'fastify'
import { invalidType, invalidValue, missingParameter } from '@dria/protocol'
import { apiError } from '../errors.js'
import { checkBatchUpload, cleanFilename } from '../files/index.js'
import type { FileService } from '../files/index.js'
import type { FilePurpose, FileRecord } from '../store/index.js'
import type { Authenticator } from './auth.js'
import { MAX_EXPIRES_AFTER_SECONDS, MIN_EXPIRES_AFTER_SECONDS } from './constants.js'
import { page } from './pagination.js'
import { fileSchema, idParams, listSchema, pageQuery, withErrors } from './schemas.js'

const UPLOAD_PURPOSES = ['batch']

/** `expires_after[anchor]` and `expires_after[seconds]`, as the OpenAI SDKs send them in a form. */
function expiresAt (fields: Map<string, string>, now: number): number | null {
  const anchor = fields.get('expires_after[anchor]')
  const seconds = fields.get('expires_after[seconds]')
  if (anchor === undefined && seconds === undefined) return null
  if (anchor === undefined) throw missingParameter('expires_after.anchor')
  if (anchor !== 'created_at') throw invalidValue('expires_after.anchor', anchor, ['created_at'])
  if (seconds === undefined) throw missingParameter('expires_after.seconds')
  const value = Number(seconds)
  if (!/^\d+$/.test(seconds)) throw invalidType('expires_after.seconds', 'an integer', seconds)
  if (value < MIN_EXPIRES_AFTER_SECONDS) {
    throw apiError('integer_below_min_value', `Invalid 'expires_after.seconds': integer below minimum value. Expected a value >= ${MIN_EXPIRES_AFTER_SECONDS}, but got ${value} instead.`, 'expires_after.seconds')
  }
  if (value > MAX_EXPIRES_AFTER_SECONDS) {
    throw apiError('integer_above_max_value', `Invalid 'expires_after.seconds': integer above maximum value. Expected a value <= ${MAX_EXPIRES_AFTER_SECONDS}, but got ${value} instead.`, 'expires_after.seconds')
  }
  return now + value
}

/**
 * RFC 6266: an ASCII fallback plus the exact name percent-encoded as UTF-8. Node refuses
 * header values with characters above U+00FF, so a raw non-Latin name would be a 500.
 */
function contentDisposition (filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\]/g, '_')
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`
}

export function fileObject (record: FileRecord): Omit<FileRecord, 'owner'> & { expires_at: number | null, status_details: null } {
  const { owner: _owner, ...file } = record
  return { ...file, expires_at: record.expires_at ?? null, status_details: null }
}

/** OpenAI Files: create (multipart, streamed to disk), list, retrieve, content, delete. */
export function registerFileRoutes (app: FastifyInstance, components: { files: FileService, auth: Authenticator }): void {
  const { files, auth } = components

  app.post('/v1/files', { schema: { response: withErrors({ 200: fileSchema }) } }, async (request) => {
    const { keyId, limits } = await auth.authenticate(request)
    if (!request.isMultipart()) throw apiError('invalid_request_error', 'Upload a file with multipart/form-data (fields: file, purpose).')
    // Every upload has purpose `batch`, so the daily quota is checked before reading the body.
    const release = await files.reserveDailyUpload(keyId, limits.filesPerDay)
    let temp: string | undefined
    let filename = 'upload.jsonl'
    const fields = new Map<string, string>()
    try {
      // OpenAI clients may send `purpose` before or after the file part.
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          if (part.fieldname !== 'file' || temp !== undefined) {
            part.file.resume()
            throw apiError('invalid_request_error', 'Send exactly one file, in the `file` field.', 'file')
          }
          filename = cleanFilename(part.filename)
          temp = await files.receive(part.file, limits.fileBytes)
        } else {
          fields.set(part.fieldname, String(part.value))
        }
      }
      const purpose = fields.get('purpose')
      if (temp === undefined) throw missingParameter('file')
      if (purpose === undefined) throw missingParameter('purpose')
      if (!UPLOAD_PURPOSES.includes(purpose)) throw invalidValue('purpose', purpose, UPLOAD_PURPOSES)
      const expires = expiresAt(fields, Math.floor(Date.now() / 1000))
      await checkBatchUpload(temp)
      const record = await files.adopt(keyId, temp, { filename, purpose: purpose as FilePurpose, expiresAt: expires })
      temp = undefined
      return fileObject(record)
    } finally {
      release()
      if (temp !== undefined) await files.discard(temp)
    }
  })

  app.get<{ Querystring: { limit?: number, after?: string, order?: 'asc' | 'desc', purpose?: string } }>('/v1/files', {
    schema: { querystring: pageQuery, response: withErrors({ 200: listSchema(fileSchema) }) }
  }, async (request) => {
    const { keyId } = await auth.authenticate(request)
    const { limit = 10000, after, order = 'desc', purpose } = request.query
    const result = await files.list(keyId, { limit, after, order, filter: purpose === undefined ? undefined : (f) => (f as FileRecord).purpose === purpose })
    return page(result.data.map(fileObject), result.hasMore)
  })

  app.get<{ Params: { id: string } }>('/v1/files/:id', {
    schema: { params: idParams, response: withErrors({ 200: fileSchema }) }
  }, async (request) => {
    const { keyId } = await auth.authenticate(request)
    return fileObject(await files.get(keyId, request.params.id))
  })

  app.get<{ Params: { id: string } }>('/v1/files/:id/content', { schema: { params: idParams } }, async (request, reply) => {
    const { keyId } = await auth.authenticate(request)
    const { record, stream } = await files.open(keyId, request.params.id)
    return await reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', record.bytes)
      .header('content-disposition', contentDisposition(record.filename))
      .send(stream)
  })

  app.delete<{ Params: { id: string } }>('/v1/files/:id', {
    schema: { params: idParams, response: withErrors({ 200: { type: 'object', properties: { id: { type: 'string' }, object: { type: 'string' }, deleted: { type: 'boolean' } } } }) }
  }, async (request) => {
    const { keyId } = await auth.authenticate(request)
    const record = await files.delete(keyId, request.params.id)
    return { id: record.id, object: 'file', deleted: true }
  })
}
