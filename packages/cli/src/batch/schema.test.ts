import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { responseFormatOf, schemaFromFields } from './schema.js'

describe('structured output options', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'dria-schema-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('turns --schema fields into a strict object schema', () => {
    expect(schemaFromFields('sentiment, confidence:number,tags:string[],ok:boolean')).toEqual({
      type: 'object',
      properties: { sentiment: { type: 'string' }, confidence: { type: 'number' }, tags: { type: 'array', items: { type: 'string' } }, ok: { type: 'boolean' } },
      required: ['sentiment', 'confidence', 'tags', 'ok'],
      additionalProperties: false
    })
    expect(responseFormatOf({ schema: 'a' })).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema: schemaFromFields('a'), strict: true } })
    expect(responseFormatOf({})).toBeUndefined()
  })

  it.each(['', 'a:date', 'a:b:c', '1a', 'a,a'])('refuses --schema %j (exit 2)', (spec) => {
    expect(() => schemaFromFields(spec)).toThrow(expect.objectContaining({ code: 'INVALID_SCHEMA', exitCode: 2 }))
  })

  it('reads a schema file as a JSON schema, a json_schema object or a response_format', async () => {
    const schema = { type: 'object', properties: { x: { type: 'integer' } } }
    for (const [name, content, expectedName] of [
      ['plain.json', schema, 'output'],
      ['named.json', { name: 'thing', schema }, 'thing'],
      ['format.json', { type: 'json_schema', json_schema: { name: 'fmt', schema } }, 'fmt']
    ] as const) {
      const path = join(dir, name)
      await writeFile(path, JSON.stringify(content))
      expect(responseFormatOf({ schemaFile: path })).toEqual({ type: 'json_schema', json_schema: { name: expectedName, schema, strict: true } })
    }
    await writeFile(join(dir, 'bad.json'), '[1, 2]')
    expect(() => responseFormatOf({ schemaFile: join(dir, 'bad.json') })).toThrow(expect.objectContaining({ code: 'INVALID_SCHEMA' }))
    expect(() => responseFormatOf({ schemaFile: join(dir, 'missing.json') })).toThrow(/ENOENT/)
    expect(() => responseFormatOf({ schema: 'a', schemaFile: join(dir, 'plain.json') })).toThrow(/not both/)
  })
})
