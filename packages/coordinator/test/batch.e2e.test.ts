import { existsSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { join } from 'node:path'
import OpenAI, { toFile } from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BINARIES, SHARED_MODELS_DIR, startCoordinatorProcess, startNodeProcess, tempDir } from '@dria/testkit'
import type { CoordinatorProcess, NodeProcess } from '@dria/testkit'

const MODEL = 'stories260K'
const API_KEY = 'sk-e2e-test'
const LINES = 200

describe.runIf(existsSync(join(SHARED_MODELS_DIR, `${MODEL}.gguf`)))('coordinator + 2 nodes, official openai SDK', () => {
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
      args: ['--models-dir', SHARED_MODELS_DIR, '--models', MODEL, '--slots', '4']
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
    const listed = JSON.parse(stdout) as Array<{ peer_id: string, engine: string, slots_total: number, models: Array<{ name: string, tokens_per_second: number }> }>
    expect(listed.map(n => n.peer_id).sort()).toEqual(nodes.map(n => n.peerId).sort())
    for (const node of listed) {
      expect(node).toMatchObject({ engine: 'llamacpp', slots_total: 4 })
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
    // The stories model writes English words.
    expect(results.filter(r => /\b(the|a|and|was)\b/i.test(r.response.body.choices[0].message.content)).length).toBeGreaterThan(LINES / 2)
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
    const schema = { type: 'object', properties: { name: { type: 'string' }, friends: { type: 'integer' } }, required: ['name', 'friends'], additionalProperties: false }
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
      expect(Number.isInteger(value.friends)).toBe(true)
    }
    expect(results.filter(r => r.response.body.choices[0].finish_reason === 'stop').length).toBeGreaterThan(0)
  })

  it('dria batch: prompt-only lines in, results and exit code 0 out', async () => {
    const input = join(dir.path, 'prompts.jsonl')
    const output = join(dir.path, 'results.jsonl')
    await writeFile(input, ['Once upon a time', 'The little dog', 'A big red ball'].map((prompt, i) => JSON.stringify({ id: i + 1, prompt })).join('\n'))
    const { stderr } = await promisify(execFile)(process.execPath, [BINARIES.cli, 'batch', input, '-o', output, '--model', MODEL, '--poll-ms', '100'], {
      env: { ...process.env, DRIA_URL: coordinator.url, DRIA_API_KEY: API_KEY }
    })
    expect(stderr).toContain(`results: ${output}`)
    const results = (await readFile(output, 'utf8')).trim().split('\n').map(line => JSON.parse(line) as { custom_id: string, model: string, result: string, token_count: number })
    expect(results.map(r => r.custom_id).sort()).toEqual(['1', '2', '3'])
    for (const result of results) {
      expect(result.model).toBe(MODEL)
      expect(result.result.length).toBeGreaterThan(0)
      expect(result.token_count).toBeGreaterThan(0)
    }
  })

  it('dria batch exits non-zero and prints the line errors of an invalid file', async () => {
    const input = join(dir.path, 'broken.jsonl')
    await writeFile(input, '{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"model":"' + MODEL + '","messages":[]}}\n')
    const run = promisify(execFile)(process.execPath, [BINARIES.cli, 'batch', input, '-o', join(dir.path, 'never.jsonl'), '--poll-ms', '100'], {
      env: { ...process.env, DRIA_URL: coordinator.url, DRIA_API_KEY: API_KEY }
    })
    await expect(run).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('line 1: invalid_url') })
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
