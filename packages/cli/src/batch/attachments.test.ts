import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_ATTACHMENT_BYTES } from '../constants.js'
import { loadAttachment } from './attachments.js'

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')
const DATA_URL = `data:image/png;base64,${PNG.toString('base64')}`

describe('attachments', () => {
  let dir: string
  let server: Server
  let url: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-attach-'))
    await writeFile(join(dir, 'cat.PNG'), PNG)
    await writeFile(join(dir, 'clip.wav'), Buffer.from('RIFF....WAVEfmt '))
    await writeFile(join(dir, 'notes.txt'), 'hello')
    await writeFile(join(dir, 'huge.png'), Buffer.alloc(MAX_ATTACHMENT_BYTES + 1))
    server = createServer((request, response) => {
      if (request.url === '/cat') return response.writeHead(200, { 'content-type': 'image/png' }).end(PNG)
      if (request.url === '/raw.png') return response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(PNG)
      response.writeHead(404).end()
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  })

  afterAll(async () => {
    await new Promise(resolve => server.close(resolve))
    await rm(dir, { recursive: true, force: true })
  })

  it('reads files relative to the input file as image and audio parts', async () => {
    expect(await loadAttachment('cat.PNG', dir)).toEqual({ media: 'vision', part: { type: 'image_url', image_url: { url: DATA_URL } } })
    expect(await loadAttachment('clip.wav', dir)).toEqual({ media: 'audio', part: { type: 'input_audio', input_audio: { data: Buffer.from('RIFF....WAVEfmt ').toString('base64'), format: 'wav' } } })
  })

  it('takes data URIs as they are and fetches URLs', async () => {
    expect(await loadAttachment(DATA_URL, dir)).toEqual({ media: 'vision', part: { type: 'image_url', image_url: { url: DATA_URL } } })
    expect((await loadAttachment(`${url}/cat`, dir)).part).toEqual({ type: 'image_url', image_url: { url: DATA_URL } })
    expect((await loadAttachment(`${url}/raw.png`, dir)).media).toBe('vision')
  })

  it.each([
    ['nope.png', 'ATTACHMENT_NOT_FOUND', (d: string) => `attachment not found: ${join(d, 'nope.png')}`],
    ['notes.txt', 'ATTACHMENT_UNSUPPORTED', (d: string) => `attachment ${join(d, 'notes.txt')} is not an image (png, jpg, gif, webp) or audio (wav, mp3)`],
    ['huge.png', 'ATTACHMENT_TOO_LARGE', (d: string) => `attachment ${join(d, 'huge.png')} is ${MAX_ATTACHMENT_BYTES + 1} bytes; at most ${MAX_ATTACHMENT_BYTES} are sent inline`],
    ['data:text/plain,hello', 'ATTACHMENT_UNSUPPORTED', () => 'attachment data URI is text/plain; send an image or wav/mp3 audio']
  ])('%s is the line\'s error %s, naming it', async (reference, code, message) => {
    await expect(loadAttachment(reference, dir)).rejects.toMatchObject({ code, message: message(dir) })
  })

  it('names the URL of a failed fetch', async () => {
    await expect(loadAttachment(`${url}/missing.png`, dir)).rejects.toMatchObject({ code: 'ATTACHMENT_FETCH_FAILED', message: `cannot fetch attachment ${url}/missing.png: HTTP 404` })
  })
})
