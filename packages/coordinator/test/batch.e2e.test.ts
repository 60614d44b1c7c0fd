import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { join } from 'node:path'
import OpenAI, { toFile } from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLlamaCppEngine } from '@dria/engines'
import { createLogger } from '@dria/protocol'
import { BINARIES, startCoordinatorProcess, startNodeProcess, tempDir, testModels } from '@dria/testkit'
import type { CoordinatorProcess, NodeProcess } from '@dria/testkit'

const models = await testModels()
const MODEL = models.main
const API_KEY = 'sk-e2e-test'
const LINES = 200

describe('coordinator + 2 nodes, official openai SDK', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let coordinator: CoordinatorProcess
  const nodes: NodeProcess[] = []
  let openai: OpenAI

  beforeAll(async () => {
    dir = await tempDir('dria-batch-e2e-')
    coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'coordinator'), apiKeys: [API_KEY] })
    nodes.push(...await Promise.all([1, 2].map(i => startNodeProcess({
      dataDir: join(dir.path, `node-${i}`),
      bootstrap: coordinator.multiaddrs,
      args: ['--models-dir', models.dir, '--models', MODEL, '--slots', '4']
    }))))
    openai = new OpenAI({ baseURL: `${coordinator.url}/v1`, apiKey: API_KEY, maxRetries: 0 })
    for (let i = 0; i < 100; i++) {
      const models = await openai.models.list()
      if (models.data.some(m => m.id === MODEL && (m as unknown as { nodes: number }).nodes === 2)) break
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }, 120_000)

  afterAll(async () => {
    await Promise.all([...nodes, coordinator].filter(Boolean).map(p => p.stop()))
    await dir?.remove()
  })

  it('lists the model with its node count', async () => {
    const models = await openai.models.list()
    const model = models.data.find(m => m.id === MODEL) as unknown as { object: string, nodes: number }
    expect(model.object).toBe('model')
    expect(model.nodes).toBe(2)
  })

  it('dria nodes lists both nodes with their advertised capacity', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [BINARIES.cli, 'nodes'], {
      env: { ...process.env, DRIA_URL: coordinator.url, DRIA_API_KEY: API_KEY }
    })
    const listed = JSON.parse(stdout) as Array<{ peer_id: string, engine: string, slots: { advertised: number }, models: Array<{ name: string, tokens_per_second: number }> }>
    expect(listed.map(n => n.peer_id).sort()).toEqual(nodes.map(n => n.peerId).sort())
    for (const node of listed) {
      expect(node).toMatchObject({ engine: 'llamacpp', slots: { advertised: 4 } })
      expect(node.models[0].name).toBe(MODEL)
      expect(node.models[0].tokens_per_second).toBeGreaterThan(0)
    }
  })

  it('refuses requests without a valid key', async () => {
    const stranger = new OpenAI({ baseURL: `${coordinator.url}/v1`, apiKey: 'wrong', maxRetries: 0 })
    await expect(stranger.batches.list()).rejects.toMatchObject({ status: 401, code: 'invalid_api_key' })
  })

  it('runs a 200-line batch: every custom_id exactly once, real model text with usage', async () => {
    const lines = Array.from({ length: LINES }, (_, i) => JSON.stringify({
      custom_id: `req-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: MODEL, messages: [{ role: 'user', content: `Once upon a time, number ${i}` }], max_tokens: 32, temperature: 0 }
    }))
    const input = join(dir.path, 'input.jsonl')
    await writeFile(input, lines.join('\n') + '\n')

    const file = await openai.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'input.jsonl'), purpose: 'batch' })
    expect(file).toMatchObject({ object: 'file', purpose: 'batch', filename: 'input.jsonl' })
    const fetched = await openai.files.retrieve(file.id)
    expect(fetched.bytes).toBe(file.bytes)

    const created = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    expect(created.status).toBe('validating')
    let batch = created
    for (let i = 0; i < 600 && !['completed', 'failed', 'expired', 'cancelled'].includes(batch.status); i++) {
      await new Promise(resolve => setTimeout(resolve, 250))
      batch = await openai.batches.retrieve(created.id)
    }
    expect(batch.status).toBe('completed')
    expect(batch.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 })
    expect(batch.output_file_id).toBeTruthy()
    expect(batch.error_file_id).toBeNull()
    expect(batch.completed_at).toBeGreaterThanOrEqual(batch.created_at)

    const output = await (await openai.files.content(batch.output_file_id!)).text()
    const results = output.trim().split('\n').map(line => JSON.parse(line))
    expect(results).toHaveLength(LINES)
    expect(new Set(results.map(r => r.custom_id))).toEqual(new Set(Array.from({ length: LINES }, (_, i) => `req-${i}`)))
    let outputTokens = 0
    for (const result of results) {
      expect(result.error).toBeNull()
      expect(result.response.status_code).toBe(200)
      const body = result.response.body
      expect(body.object).toBe('chat.completion')
      expect(body.model).toBe(MODEL)
      expect(body.choices[0].message.role).toBe('assistant')
      expect(body.choices[0].message.content.length).toBeGreaterThan(0)
      expect(['stop', 'length']).toContain(body.choices[0].finish_reason)
      expect(body.usage.completion_tokens).toBeLessThanOrEqual(32)
      expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens)
      outputTokens += body.usage.completion_tokens
    }
    // Greedy lines: each answer is what the model itself writes, checked on every tenth line.
    const engine = await createLlamaCppEngine({ logger: createLogger('test') }, { modelsDir: models.dir, models: [MODEL], threads: 1, slots: 1 })
    try {
      for (const result of results.filter(r => Number(r.custom_id.slice(4)) % 10 === 0)) {
        const expected = await engine.chat({ model: MODEL, messages: [{ role: 'user', content: `Once upon a time, number ${result.custom_id.slice(4)}` }], maxTokens: 32, temperature: 0 })
        expect(result.response.body.choices[0].message.content).toBe(expected.text)
        expect(result.response.body.usage).toMatchObject({ prompt_tokens: expected.usage.promptTokens, completion_tokens: expected.usage.completionTokens })
      }
    } finally {
      await engine.close()
    }
    expect(batch.usage?.output_tokens).toBe(outputTokens)

    // Both nodes did part of the work.
    const peers = new Set(coordinator.lines.filter(l => l.msg === 'node joined').map(l => l.peer))
    expect(peers.size).toBe(2)

    const metrics = await (await fetch(`${coordinator.url}/metrics`)).text()
    expect(Number(/^dria_scheduler_task_attempts_total\{outcome="completed"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(LINES)
    expect(Number(/^dria_ingest_lines_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(LINES)
    expect(metrics).toMatch(/^dria_network_nodes 2$/m)
  })

  it('structured output: json_schema lines come back as JSON matching the schema', async () => {
    // A bounded name: a model that never writes a quote itself (the generated one) still finishes the object.
    const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 16 }, friends: { type: 'integer' } }, required: ['name', 'friends'], additionalProperties: false }
    const lines = Array.from({ length: 6 }, (_, i) => JSON.stringify({
      custom_id: `json-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: MODEL, messages: [{ role: 'user', content: `Describe character ${i}` }], max_tokens: 200, response_format: { type: 'json_schema', json_schema: { name: 'character', schema } } }
    }))
    const file = await openai.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'json.jsonl'), purpose: 'batch' })
    let batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    for (let i = 0; i < 300 && batch.status !== 'completed'; i++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      batch = await openai.batches.retrieve(batch.id)
    }
    expect(batch.request_counts).toEqual({ total: 6, completed: 6, failed: 0 })
    const results = (await (await openai.files.content(batch.output_file_id!)).text()).trim().split('\n').map(line => JSON.parse(line))
    for (const result of results) {
      const choice = result.response.body.choices[0]
      if (choice.finish_reason !== 'stop') continue
      const value = JSON.parse(choice.message.content) as Record<string, unknown>
      expect(Object.keys(value).sort()).toEqual(['friends', 'name'])
      expect(typeof value.name).toBe('string')
      expect((value.name as string).length).toBeLessThanOrEqual(16)
      expect(Number.isInteger(value.friends)).toBe(true)
    }
    expect(results.filter(r => r.response.body.choices[0].finish_reason === 'stop').length).toBeGreaterThan(0)
  })

  it('dria batch: prompt-only lines in, results and exit code 0 out', async () => {
    const input = join(dir.path, 'prompts.jsonl')
    const output = join(dir.path, 'results.jsonl')
    await writeFile(input, ['Once upon a time', 'The little dog', 'A big red ball'].map((prompt, i) => JSON.stringify({ id: i + 1, prompt })).join('\n'))
    const { stderr } = await promisify(execFile)(process.execPath, [BINARIES.cli, 'batch', input, '-o', output, '--model', MODEL, '--max-tokens', '16'], {
      env: { ...process.env, DRIA_URL: coordinator.url, DRIA_API_KEY: API_KEY }
    })
    expect(stderr).toContain(`done: 3 ok, 0 failed`)
    expect(stderr).toContain(`→ ${output}`)
    const results = (await readFile(output, 'utf8')).trim().split('\n').map(line => JSON.parse(line) as { id: string, model: string, output: string, tokens: number })
    expect(results.map(r => r.id).sort()).toEqual(['1', '2', '3'])
    for (const result of results) {
      expect(result.model).toBe(MODEL)
      expect(result.output.length).toBeGreaterThan(0)
      expect(result.tokens).toBeGreaterThan(0)
    }
  })

  it('dria batch refuses an invalid input file with exit code 2, naming the line', async () => {
    const input = join(dir.path, 'broken.jsonl')
    await writeFile(input, '{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"' + MODEL + '","messages":[]}}\n')
    const run = promisify(execFile)(process.execPath, [BINARIES.cli, 'batch', input, '-o', join(dir.path, 'never.jsonl')], {
      env: { ...process.env, DRIA_URL: coordinator.url, DRIA_API_KEY: API_KEY }
    })
    await expect(run).rejects.toMatchObject({ code: 2, stderr: `error: ${input}:1: "prompt" must be a non-empty string\n` })
  })

  it('accepts a chunked multipart upload without a length, with any filename', async () => {
    const boundary = 'dria-boundary-7f3a'
    const filename = 'données de test (1).jsonl'
    const body = `${JSON.stringify({ custom_id: 'c1', method: 'POST', url: '/v1/chat/completions', body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }] } })}\n`
    const { request } = await import('node:http')
    const url = new URL('/v1/files', coordinator.url)
    const status = await new Promise<{ status: number, json: Record<string, unknown> }>((resolve, reject) => {
      const req = request(url, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': `multipart/form-data; boundary=${boundary}` } }, res => {
        let text = ''
        res.on('data', (chunk: Buffer) => { text += chunk.toString() })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }) })
      })
      req.on('error', reject)
      // No content-length: node sends the body with transfer-encoding: chunked, in several chunks.
      req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename*=UTF-8''${encodeURIComponent(filename)}\r\nContent-Type: application/jsonl\r\n\r\n`)
      for (const piece of body.match(/[\s\S]{1,16}/g) ?? []) req.write(piece)
      req.write(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${boundary}--\r\n`)
      req.end()
    })
    expect(status.status).toBe(200)
    expect(status.json).toMatchObject({ object: 'file', purpose: 'batch', filename, bytes: Buffer.byteLength(body) })
    const content = await (await openai.files.content(status.json.id as string)).text()
    expect(content).toBe(body)
  })

  it('answers unknown ids with 404 in the OpenAI error shape', async () => {
    await expect(openai.batches.retrieve('batch_nope')).rejects.toMatchObject({ status: 404, code: 'batch_not_found' })
    await expect(openai.files.retrieve('file-nope')).rejects.toMatchObject({ status: 404, code: 'file_not_found' })
  })

  it('fails a batch whose file has invalid lines, with 1-based line numbers', async () => {
    const content = [
      JSON.stringify({ custom_id: 'ok', method: 'POST', url: '/v1/chat/completions', body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }] } }),
      '{not json',
      JSON.stringify({ custom_id: 'ok', method: 'POST', url: '/v1/chat/completions', body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }] } })
    ].join('\n')
    const file = await openai.files.create({ file: await toFile(Buffer.from(content), 'bad.jsonl'), purpose: 'batch' })
    let batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    for (let i = 0; i < 100 && batch.status === 'validating'; i++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      batch = await openai.batches.retrieve(batch.id)
    }
    expect(batch.status).toBe('failed')
    expect(batch.errors?.data?.map(e => [e.line, e.code])).toEqual([[2, 'invalid_json_line'], [3, 'duplicate_custom_id']])
  })
})
