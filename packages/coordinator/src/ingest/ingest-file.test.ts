import { createWriteStream, existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isDriaError } from '@dria/protocol'
import { ingestFile } from './ingest-file.js'
import type { IngestOptions, IngestSummary, TaskSpec } from './types.js'

const CHAT = '/v1/chat/completions'
const MODEL = 'stories260K'

const chatBody = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ model: MODEL, messages: [{ role: 'user', content: 'Tell a story' }], ...extra })
const openaiLine = (customId: unknown, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ custom_id: customId, method: 'POST', url: CHAT, body: chatBody(), ...extra })

describe('ingestFile', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dria-ingest-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  async function ingest (content: string, options: Partial<IngestOptions> = {}): Promise<{ summary: IngestSummary, tasks: TaskSpec[], calls: number[] }> {
    const path = join(dir, 'input.jsonl')
    await writeFile(path, content)
    const tasks: TaskSpec[] = []
    const calls: number[] = []
    const summary = await ingestFile(path, { endpoint: CHAT, ...options }, async chunk => {
      calls.push(chunk.length)
      tasks.push(...chunk)
    })
    return { summary, tasks, calls }
  }

  it('normalizes OpenAI lines for each endpoint', async () => {
    const chat = await ingest(`${openaiLine('a', { body: chatBody({ temperature: 0, max_tokens: 8 }) })}\n`)
    expect(chat.summary).toEqual({ lines: 1, tasks: 1, failed: 0, errors: [], errorCount: 0, models: [MODEL], bytes: expect.any(Number) })
    expect(chat.tasks).toEqual([{ line: 1, customId: 'a', kind: 'chat', model: MODEL, format: 'openai', body: JSON.stringify(chatBody({ temperature: 0, max_tokens: 8 })) }])

    const completion = await ingest(JSON.stringify({ custom_id: 'c', method: 'POST', url: '/v1/completions', body: { model: 'm2', prompt: 'Once' } }), { endpoint: '/v1/completions' })
    expect(completion.tasks).toEqual([{ line: 1, customId: 'c', kind: 'completion', model: 'm2', format: 'openai', body: '{"model":"m2","prompt":"Once"}' }])

    const embedding = await ingest(JSON.stringify({ custom_id: 'e', method: 'POST', url: '/v1/embeddings', body: { model: 'emb', input: ['x', 'y'] } }), { endpoint: '/v1/embeddings' })
    expect(embedding.tasks[0]).toMatchObject({ kind: 'embedding', model: 'emb', body: '{"model":"emb","input":["x","y"]}' })
  })

  it('maps Dria lines to chat bodies, taking the batch model when the body has none', async () => {
    const body = { messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }
    const { summary, tasks } = await ingest([
      JSON.stringify({ custom_id: 'd1', type: 'completions', version: 'v1', body }),
      JSON.stringify({ custom_id: 'd2', type: 'completions', version: 'v1', body: { ...body, model: 'other' } })
    ].join('\n'), { defaultModel: MODEL })
    expect(tasks.map(t => [t.customId, t.format, t.kind, t.model])).toEqual([['d1', 'dria', 'chat', MODEL], ['d2', 'dria', 'chat', 'other']])
    expect(JSON.parse(tasks[0].body)).toEqual({ ...body, model: MODEL })
    expect(summary.models).toEqual(['other', MODEL])

    const invalid = await ingest([
      JSON.stringify({ custom_id: 'd3', type: 'embeddings', version: 'v1', body }),
      JSON.stringify({ custom_id: 'd4', type: 'completions', version: 'v2', body }),
      JSON.stringify({ custom_id: 'd5', type: 'completions', version: 'v1', body })
    ].join('\n'))
    expect(invalid.summary.errors).toEqual([
      { line: 1, code: 'invalid_value', param: 'type', message: expect.any(String) },
      { line: 2, code: 'invalid_value', param: 'version', message: expect.any(String) },
      { line: 3, code: 'missing_required_parameter', param: 'metadata.model', message: expect.any(String) }
    ])
  })

  it('turns prompt-only lines into one user message to the batch model', async () => {
    const { tasks } = await ingest([
      JSON.stringify({ prompt: 'Summarize', id: 7, attachment: 'the text' }),
      JSON.stringify({ prompt: 'Plain', id: 'x8', attachment: { not: 'a string' } })
    ].join('\n'), { defaultModel: MODEL })
    expect(tasks.map(t => [t.customId, t.format, t.kind, t.model])).toEqual([['7', 'prompt', 'chat', MODEL], ['x8', 'prompt', 'chat', MODEL]])
    expect(JSON.parse(tasks[0].body)).toEqual({ model: MODEL, messages: [{ role: 'user', content: 'Summarize\n\nthe text' }] })
    expect(JSON.parse(tasks[1].body).messages[0].content).toBe('Plain')

    const invalid = await ingest([
      JSON.stringify({ prompt: 'No id' }),
      JSON.stringify({ prompt: 'Bad id', id: true }),
      JSON.stringify({ prompt: 42, id: 3 }),
      JSON.stringify({ prompt: 'Again', id: '7' }),
      JSON.stringify({ prompt: 'Seven', id: 7 })
    ].join('\n'), { defaultModel: MODEL })
    expect(invalid.summary.errors.map(e => [e.line, e.code, e.param])).toEqual([
      [1, 'missing_required_parameter', 'id'],
      [2, 'invalid_type', 'id'],
      [5, 'duplicate_custom_id', 'custom_id']
    ])
    // A prompt that is not a string is that line's own 400.
    expect(invalid.summary.failed).toBe(1)
  })

  it('requires a batch model for prompt-only lines and a chat endpoint for Dria and prompt lines', async () => {
    const noModel = await ingest(JSON.stringify({ prompt: 'p', id: 1 }))
    expect(noModel.summary.errors.map(e => [e.line, e.code, e.param])).toEqual([[1, 'missing_required_parameter', 'metadata.model']])

    const embeddings = await ingest([
      JSON.stringify({ prompt: 'p', id: 1 }),
      JSON.stringify({ custom_id: 'd', type: 'completions', version: 'v1', body: chatBody() })
    ].join('\n'), { endpoint: '/v1/embeddings', defaultModel: MODEL })
    expect(embeddings.summary.errors.map(e => [e.line, e.code])).toEqual([[1, 'invalid_url'], [2, 'invalid_url']])
  })

  it('reports every file-level error code with its 1-based line, skipping blank lines', async () => {
    const lines = [
      openaiLine('ok-1'), // 1
      '   ', // 2: blank
      'not json', // 3
      '[1, 2]', // 4
      JSON.stringify({ method: 'POST', url: CHAT, body: chatBody() }), // 5
      openaiLine('m', { method: 'GET' }), // 6
      openaiLine('u', { url: '/v1/embeddings' }), // 7
      JSON.stringify({ custom_id: 'b', method: 'POST', url: CHAT }), // 8
      openaiLine('nm', { body: { messages: [{ role: 'user', content: 'x' }] } }), // 9
      openaiLine('bm', { body: chatBody({ model: 7 }) }), // 10
      openaiLine('bb', { body: 'hello' }), // 11
      openaiLine('unknown', { body: chatBody({ model: 'gpt-9' }) }), // 12
      openaiLine('ok-1'), // 13
      openaiLine('x'.repeat(513)), // 14
      openaiLine(''), // 15
      openaiLine('long', { body: chatBody({ messages: [{ role: 'user', content: 'x'.repeat(1024 * 1024) }] }) }), // 16
      JSON.stringify({ url: CHAT, custom_id: 'nomethod', body: chatBody() }), // 17
      JSON.stringify({ method: 'POST', custom_id: 'nourl', body: chatBody() }), // 18
      openaiLine(42), // 19
      openaiLine('ok-2') // 20
    ]
    const { summary, tasks } = await ingest(lines.join('\n') + '\n', { servedModels: [MODEL] })
    expect(summary.errors.map(e => [e.line, e.code, e.param])).toEqual([
      [3, 'invalid_json_line', null],
      [4, 'invalid_json_line', null],
      [5, 'missing_required_parameter', 'custom_id'],
      [6, 'invalid_method', 'method'],
      [7, 'invalid_url', 'url'],
      [8, 'missing_required_parameter', 'body'],
      [9, 'missing_required_parameter', 'body.model'],
      [10, 'invalid_type', 'body.model'],
      [11, 'invalid_type', 'body'],
      [12, 'model_not_found', 'body.model'],
      [13, 'duplicate_custom_id', 'custom_id'],
      [14, 'invalid_custom_id', 'custom_id'],
      [15, 'invalid_custom_id', 'custom_id'],
      [16, 'line_too_long', null],
      [17, 'missing_required_parameter', 'method'],
      [18, 'missing_required_parameter', 'url'],
      [19, 'invalid_type', 'custom_id']
    ])
    expect(summary.errors.every(e => e.message.length > 0)).toBe(true)
    expect(summary.errors.find(e => e.line === 7)?.message).toContain('does not match')
    expect(summary.errors.find(e => e.line === 12)?.message).toContain('not supported')
    // Duplicates are found once every line was read: line 13 parsed as a task.
    expect(summary).toMatchObject({ lines: 19, tasks: 3, failed: 0, errorCount: 17, models: [MODEL] })
    // Line 1 may have been handed out before the first error; nothing after it is.
    expect(tasks.map(t => t.customId)).toEqual([])
  })

  it('answers lines with an invalid request body with their own 400 while the others run', async () => {
    const lines = [
      openaiLine('ok-1'),
      openaiLine('role', { body: { model: MODEL, messages: [{ role: 'robot', content: 'x' }] } }),
      openaiLine('temp', { body: chatBody({ temperature: 7 }) }),
      openaiLine('nmsg', { body: { model: MODEL } }),
      openaiLine('s', { body: chatBody({ stream: true }) }),
      openaiLine('tools', { body: chatBody({ tools: [{ type: 'function', function: { name: 'f' } }] }) }),
      openaiLine('deep', { body: chatBody({ response_format: { type: 'json_schema', json_schema: { name: 'd', schema: 'SCHEMA' } } }) }).replace('"SCHEMA"', '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)),
      openaiLine('ok-2')
    ]
    const { summary, tasks } = await ingest(lines.join('\n'))
    expect(summary).toMatchObject({ lines: 8, tasks: 2, failed: 6, errorCount: 0, errors: [], models: [MODEL] })
    expect(tasks.map(t => [t.customId, t.failure?.code ?? null, t.failure?.param ?? null])).toEqual([
      ['ok-1', null, null],
      ['role', 'invalid_value', 'messages[0].role'],
      ['temp', 'decimal_above_max_value', 'temperature'],
      ['nmsg', 'missing_required_parameter', 'messages'],
      ['s', 'unsupported_value', 'stream'],
      ['tools', 'unsupported_parameter', 'tools'],
      ['deep', 'invalid_value', null],
      ['ok-2', null, null]
    ])
    expect(tasks.filter(t => t.failure !== undefined).every(t => t.body === '' && t.model === MODEL)).toBe(true)
  })

  it('accepts a one-prompt array on /v1/completions', async () => {
    const { summary, tasks } = await ingest(JSON.stringify({ custom_id: 'c', method: 'POST', url: '/v1/completions', body: { model: MODEL, prompt: ['Once upon a time'] } }), { endpoint: '/v1/completions' })
    expect(summary).toMatchObject({ tasks: 1, failed: 0, errorCount: 0 })
    expect(JSON.parse(tasks[0].body).prompt).toEqual(['Once upon a time'])
  })

  it('rejects lines that are not UTF-8 and files that are UTF-16, by line', async () => {
    const bad = Buffer.concat([Buffer.from(openaiLine('a') + '\n'), Buffer.from('{"custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}}\n'), Buffer.from(openaiLine('c'))])
    const path = join(dir, 'bad.jsonl')
    await writeFile(path, bad)
    const summary = await ingestFile(path, { endpoint: CHAT }, async () => {})
    expect(summary.errors).toEqual([{ line: 2, code: 'invalid_encoding', param: null, message: expect.stringContaining('UTF-8') }])

    await writeFile(path, Buffer.from('\uFEFF' + openaiLine('a') + '\n' + openaiLine('b'), 'utf16le'))
    const utf16 = await ingestFile(path, { endpoint: CHAT }, async () => {})
    expect(utf16.errors).toEqual([{ line: 1, code: 'invalid_encoding', param: null, message: expect.stringContaining('UTF-16') }])
    expect(utf16.errorCount).toBe(1)
  })

  it('handles a BOM, CRLF line endings, whitespace-only lines and a missing final newline', async () => {
    const content = '\uFEFF' + [openaiLine('a'), '', ' \t ', openaiLine('b'), openaiLine('c')].join('\r\n')
    const { summary, tasks } = await ingest(content)
    expect(tasks.map(t => [t.line, t.customId])).toEqual([[1, 'a'], [4, 'b'], [5, 'c']])
    expect(summary).toMatchObject({ lines: 3, tasks: 3, errorCount: 0, bytes: Buffer.byteLength(content) })
  })

  it('detects duplicates among long and short ids, naming the earlier line', async () => {
    const long = (n: number): string => `${'request-with-a-long-prefix-'.repeat(10)}${n}`
    const { summary } = await ingest([openaiLine(long(1)), openaiLine(long(2)), openaiLine(long(1)), openaiLine('short'), openaiLine('short')].join('\n'))
    expect(summary.errors.map(e => [e.line, e.code, e.param])).toEqual([[3, 'duplicate_custom_id', 'custom_id'], [5, 'duplicate_custom_id', 'custom_id']])
    expect(summary.errors[0].message).toContain('line 1')
    expect(summary).toMatchObject({ tasks: 5, errorCount: 2 })
  })

  it('finds duplicates through scratch files beyond what it keeps in memory, and removes them', async () => {
    const scratchDir = join(dir, 'scratch')
    const n = 150_000
    const lines = Array.from({ length: n }, (_, i) => `{"custom_id":"r${i === 149_000 ? 70_000 : i}","method":"POST","url":"${CHAT}","body":{"model":"m","messages":[{"role":"user","content":"x"}]}}`)
    const { summary } = await ingest(lines.join('\n'), { maxLines: n, scratchDir })
    expect(summary.errors).toEqual([{ line: 149_001, code: 'duplicate_custom_id', param: 'custom_id', message: expect.stringContaining('line 70001') }])
    expect(summary.errorCount).toBe(1)
    expect(existsSync(scratchDir)).toBe(false)
  })

  it('stops at the first line beyond maxLines', async () => {
    const content = [openaiLine('1'), '', openaiLine('2'), openaiLine('3'), openaiLine('4'), 'not json'].join('\n')
    const { summary } = await ingest(content, { maxLines: 3 })
    expect(summary.errors.map(e => [e.line, e.code])).toEqual([[5, 'too_many_lines']])
    expect(summary).toMatchObject({ lines: 4, tasks: 3, errorCount: 1 })

    const exact = await ingest(content.split('\n').slice(0, 4).join('\n'), { maxLines: 3 })
    expect(exact.summary).toMatchObject({ lines: 3, tasks: 3, errorCount: 0 })
  })

  it('keeps maxErrors errors and counts the rest', async () => {
    const { summary } = await ingest(Array.from({ length: 10 }, () => '{').join('\n'), { maxErrors: 3 })
    expect(summary.errors.map(e => e.line)).toEqual([1, 2, 3])
    expect(summary.errorCount).toBe(10)
  })

  it('hands tasks out in chunks of 1,000 and awaits each before reading on', async () => {
    const path = join(dir, 'input.jsonl')
    await writeFile(path, Array.from({ length: 2_500 }, (_, i) => openaiLine(`r${i}`)).join('\n'))
    const sizes: number[] = []
    const firstLines: number[] = []
    let inFlight = 0
    const summary = await ingestFile(path, { endpoint: CHAT }, async chunk => {
      expect(inFlight).toBe(0)
      inFlight++
      await new Promise(resolve => setTimeout(resolve, 20))
      sizes.push(chunk.length)
      firstLines.push(chunk[0].line)
      inFlight--
    })
    expect(sizes).toEqual([1_000, 1_000, 500])
    expect(firstLines).toEqual([1, 1_001, 2_001])
    expect(summary.tasks).toBe(2_500)
  })

  it('stops handing out tasks after the first invalid line but validates the rest', async () => {
    const lines = Array.from({ length: 3_000 }, (_, i) => i === 1_499 ? 'oops' : openaiLine(`r${i}`))
    const { summary, tasks } = await ingest(lines.join('\n'))
    expect(summary).toMatchObject({ lines: 3_000, tasks: 2_999, failed: 0, errorCount: 1 })
    expect(summary.errors[0]).toMatchObject({ line: 1_500, code: 'invalid_json_line' })
    expect(tasks.length).toBeLessThan(1_500)
  })

  it('rejects an unknown endpoint and an aborted signal', async () => {
    const path = join(dir, 'input.jsonl')
    await writeFile(path, openaiLine('a'))
    const err = await ingestFile(path, { endpoint: '/v1/images' }, async () => {}).catch(e => e)
    expect(isDriaError(err, 'invalid_endpoint')).toBe(true)

    const controller = new AbortController()
    controller.abort()
    await expect(ingestFile(path, { endpoint: CHAT, signal: controller.signal }, async () => {})).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('streams a 200,000-line file', async () => {
    const path = join(dir, 'big.jsonl')
    const out = createWriteStream(path)
    for (let i = 0; i < 200_000; i++) {
      const model = i % 2 === 0 ? MODEL : 'other'
      if (!out.write(`{"custom_id":"request-${i}","method":"POST","url":"${CHAT}","body":{"model":"${model}","messages":[{"role":"user","content":"Say hello ${i}"}]}}\n`)) {
        await new Promise<void>(resolve => out.once('drain', () => resolve()))
      }
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => err != null ? reject(err) : resolve()))
    let handed = 0
    let calls = 0
    const summary = await ingestFile(path, { endpoint: CHAT, maxLines: 1_000_000 }, async chunk => { handed += chunk.length; calls++ })
    expect(summary).toMatchObject({ lines: 200_000, tasks: 200_000, errorCount: 0, models: ['other', MODEL] })
    expect(handed).toBe(200_000)
    expect(calls).toBe(200)
  })
})
