import { describe, expect, it } from 'vitest'
import { createJob, newTaskId } from './job.js'

describe('newTaskId', () => {
  it('gives distinct 96-bit base64url ids, also across draws of random bytes', () => {
    const ids = Array.from({ length: 5_000 }, () => newTaskId())
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{16}$/)
  })
})

describe('createJob', () => {
  const format = { type: 'json_schema', json_schema: { name: 'n', schema: { type: 'object' } } }
  const job = (body: Record<string, unknown>): ReturnType<typeof createJob> =>
    createJob({ key: 'b#0', owner: 'o', kind: 'chat', model: 'm', json: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }], ...body }) })

  it('holds answers to the structured output asked for, unless a stop sequence may cut them', () => {
    expect(job({ response_format: format }).responseFormat).toMatchObject({ type: 'json_schema' })
    expect(job({ response_format: format, stop: ['}'] }).responseFormat).toBeUndefined()
  })

  it('counts the images and audio clips a request carries', () => {
    const image = { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }
    const audio = { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }
    expect(job({}).mediaParts).toBe(0)
    expect(job({ messages: [{ role: 'user', content: [{ type: 'text', text: 'what is it' }, image, image] }, { role: 'user', content: [audio] }] }).mediaParts).toBe(3)
  })
})
