import { readFile, stat } from 'node:fs/promises'
import { extname, resolve } from 'node:path'
import { DriaError } from '@dria/protocol'
import type { MediaCapability } from '@dria/protocol'
import type { ChatCompletionContentPart } from 'openai/resources/chat/completions'
import { MAX_ATTACHMENT_BYTES } from '../constants.js'

/** An attachment ready to send: the media it needs a model to read, and its content part. */
export interface Attachment {
  media: MediaCapability
  part: ChatCompletionContentPart
}

const TYPES: Readonly<Record<string, string>> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.wav': 'audio/wav',
  '.mp3': 'audio/mpeg'
}

const AUDIO_FORMATS: Readonly<Record<string, 'wav' | 'mp3'>> = {
  'audio/wav': 'wav',
  'audio/x-wav': 'wav',
  'audio/wave': 'wav',
  'audio/vnd.wave': 'wav',
  'audio/mpeg': 'mp3',
  'audio/mp3': 'mp3'
}

const FETCH_TIMEOUT_MS = 30_000

/** A line's attachment could not be used: that line's error, the others run. */
export class AttachmentError extends DriaError {}

function tooLarge (where: string, bytes: number): AttachmentError {
  return new AttachmentError('ATTACHMENT_TOO_LARGE', `attachment ${where} is ${bytes} bytes; at most ${MAX_ATTACHMENT_BYTES} are sent inline`)
}

/** The part for `data` of type `mime`: images as image_url, wav/mp3 as input_audio. */
function partOf (mime: string, data: Buffer, where: string): Attachment {
  if (data.byteLength > MAX_ATTACHMENT_BYTES) throw tooLarge(where, data.byteLength)
  if (mime.startsWith('image/')) {
    return { media: 'vision', part: { type: 'image_url', image_url: { url: `data:${mime};base64,${data.toString('base64')}` } } }
  }
  const format = AUDIO_FORMATS[mime]
  if (format !== undefined) return { media: 'audio', part: { type: 'input_audio', input_audio: { data: data.toString('base64'), format } } }
  throw new AttachmentError('ATTACHMENT_UNSUPPORTED', `attachment ${where} is ${mime}; send an image or wav/mp3 audio`)
}

function fromDataUri (uri: string): Attachment {
  const comma = uri.indexOf(',')
  const header = comma < 0 ? '' : uri.slice(5, comma)
  if (comma < 0) throw new AttachmentError('ATTACHMENT_UNSUPPORTED', 'attachment data URI has no data')
  const [mime = '', ...params] = header.split(';')
  const payload = uri.slice(comma + 1)
  const data = params.includes('base64') ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload), 'utf8')
  return partOf(mime === '' ? 'text/plain' : mime.toLowerCase(), data, 'data URI')
}

async function fromUrl (url: string, signal?: AbortSignal): Promise<Attachment> {
  let response: Response
  try {
    response = await fetch(url, { signal: AbortSignal.any([AbortSignal.timeout(FETCH_TIMEOUT_MS), ...(signal === undefined ? [] : [signal])]) })
  } catch (err) {
    if (signal?.aborted === true) throw err
    const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name
    throw new AttachmentError('ATTACHMENT_FETCH_FAILED', `cannot fetch attachment ${url}: ${code}`)
  }
  if (!response.ok) {
    await response.body?.cancel()
    throw new AttachmentError('ATTACHMENT_FETCH_FAILED', `cannot fetch attachment ${url}: HTTP ${response.status}`)
  }
  const declared = Number(response.headers.get('content-length') ?? 0)
  if (declared > MAX_ATTACHMENT_BYTES) {
    await response.body?.cancel()
    throw tooLarge(url, declared)
  }
  const data = Buffer.from(await response.arrayBuffer())
  const type = (response.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase()
  const mime = type === '' || type === 'application/octet-stream' ? TYPES[extname(new URL(url).pathname).toLowerCase()] ?? type : type
  return partOf(mime, data, url)
}

async function fromFile (path: string): Promise<Attachment> {
  const mime = TYPES[extname(path).toLowerCase()]
  let data: Buffer
  try {
    const info = await stat(path)
    if (info.size > MAX_ATTACHMENT_BYTES) throw tooLarge(path, info.size)
    data = await readFile(path)
  } catch (err) {
    if (err instanceof AttachmentError) throw err
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new AttachmentError('ATTACHMENT_NOT_FOUND', `attachment not found: ${path}`)
    throw new AttachmentError('ATTACHMENT_UNREADABLE', `cannot read attachment ${path}: ${code ?? (err as Error).message}`)
  }
  if (mime === undefined) throw new AttachmentError('ATTACHMENT_UNSUPPORTED', `attachment ${path} is not an image (png, jpg, gif, webp) or audio (wav, mp3)`)
  return partOf(mime, data, path)
}

/**
 * Loads a line's attachment: a data URI as is, an http(s) URL fetched, anything else a file
 * path relative to the input file's directory. Sent inline as base64 (nodes fetch nothing).
 */
export async function loadAttachment (reference: string, baseDir: string, signal?: AbortSignal): Promise<Attachment> {
  if (reference.startsWith('data:')) return fromDataUri(reference)
  if (/^https?:\/\//i.test(reference)) return await fromUrl(reference, signal)
  return await fromFile(resolve(baseDir, reference))
}
