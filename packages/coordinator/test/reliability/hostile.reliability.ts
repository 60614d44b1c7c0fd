import { request as httpRequest } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MODEL, jsonl, sleep } from '../harness.js'
import { printResults, startCluster } from './cluster.js'
import type { Cluster, ResultRow } from './cluster.js'

/**
 * The hostile corpus: malformed, oversized, mis-typed and malicious requests and files, each
 * answered with the status, code, line and param OpenAI would give, with the server up after
 * every one of them.
 */

const KEY = 'sk-hostile'
const ADMIN = 'admin-hostile-token'
const MAX_LINES = 1000
const CHAT = '/v1/chat/completions'

interface Observed { status: number | string, code: string | null, param?: string | null, line?: number | null }
interface Case { name: string, expect: Observed, run: () => Promise<Observed> }

const chat = (id: string, body: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ custom_id: id, method: 'POST', url: CHAT, body: { model: MODEL, messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 4, ...body } })

describe('hostile corpus', () => {
  let cluster: Cluster
  const results: Array<{ name: string, ok: boolean }> = []

  beforeAll(async () => {
    cluster = await startCluster({ apiKeys: [KEY], nodes: 1, slots: 2, args: ['--max-lines', String(MAX_LINES)], env: { DRIA_ADMIN_TOKEN: ADMIN } })
  }, 120_000)

  afterAll(async () => {
    const rows: ResultRow[] = [{ area: 'hostile corpus', scenario: 'requests and files a client or attacker could send', runs: results.length, checked: 'status, code, param, line; /health after each', lost: 0, passed: results.filter(r => r.ok).length }]
    printResults('hostile corpus', rows)
    await cluster?.stop()
  })

  async function envelope (response: Response): Promise<Observed> {
    const text = await response.text()
    let body: { error?: { code: string | null, param: string | null } } = {}
    try { body = JSON.parse(text) } catch {}
    return { status: response.status, code: body.error?.code ?? null, param: body.error?.param ?? null }
  }

  const call = async (method: string, path: string, init: { headers?: Record<string, string>, body?: string | Buffer | FormData, auth?: boolean } = {}): Promise<Observed> =>
    await envelope(await fetch(`${cluster.url}${path}`, {
      method,
      body: init.body,
      headers: { ...(init.auth === false ? {} : { authorization: `Bearer ${KEY}` }), ...init.headers }
    }))

  const json = async (method: string, path: string, body: unknown): Promise<Observed> =>
    await call(method, path, { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } })

  function form (content: string | Buffer, fields: Record<string, string> = { purpose: 'batch' }, filename = 'input.jsonl'): FormData {
    const data = new FormData()
    for (const [name, value] of Object.entries(fields)) data.append(name, value)
    data.append('file', new Blob([content]), filename)
    return data
  }

  async function upload (content: string | Buffer): Promise<string> {
    const answer = await fetch(`${cluster.url}/v1/files`, { method: 'POST', body: form(content), headers: { authorization: `Bearer ${KEY}` } })
    expect(answer.status, await answer.clone().text()).toBe(200)
    return (await answer.json() as { id: string }).id
  }

  /** Multipart bytes sent as given (boundaries and truncation under the test's control). */
  async function rawMultipart (contentType: string, body: Buffer): Promise<Observed> {
    return await new Promise((resolve, reject) => {
      const req = httpRequest(`${cluster.url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': contentType, 'content-length': body.length } }, res => {
        let text = ''
        res.on('data', (chunk: Buffer) => { text += chunk.toString() })
        res.on('end', () => {
          const parsed = JSON.parse(text) as { error: { code: string, param: string | null } }
          resolve({ status: res.statusCode ?? 0, code: parsed.error.code, param: parsed.error.param })
        })
      })
      req.on('error', reject)
      req.end(body)
    })
  }

  /** Uploads a file, creates a batch and waits for validation: the first error, or the status. */
  async function validation (content: string | Buffer, extra: Record<string, unknown> = {}): Promise<Observed> {
    const id = await upload(content)
    const created = await fetch(`${cluster.url}/v1/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input_file_id: id, endpoint: CHAT, completion_window: '24h', ...extra })
    })
    let batch = await created.json() as { id: string, status: string, errors: { data: Array<{ code: string, param: string | null, line: number | null }> } | null }
    for (let i = 0; i < 200 && batch.status === 'validating'; i++) {
      await sleep(25)
      batch = await (await fetch(`${cluster.url}/v1/batches/${batch.id}`, { headers: { authorization: `Bearer ${KEY}` } })).json() as typeof batch
    }
    const first = batch.errors?.data[0]
    // A one-line batch that passed validation may already be finishing by the time it is read.
    const status = ['in_progress', 'finalizing', 'completed'].includes(batch.status) ? 'running' : batch.status
    return { status, code: first?.code ?? null, param: first?.param ?? null, line: first?.line ?? null }
  }

  const lines = (...items: unknown[]): string => items.map(i => typeof i === 'string' ? i : JSON.stringify(i)).join('\n') + '\n'
  const deep = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)

  const httpCases: Case[] = [
    { name: 'no key', expect: { status: 401, code: 'invalid_api_key', param: null }, run: async () => await call('GET', '/v1/batches', { auth: false }) },
    { name: 'wrong key', expect: { status: 401, code: 'invalid_api_key', param: null }, run: async () => await call('GET', '/v1/batches', { auth: false, headers: { authorization: 'Bearer sk-nope' } }) },
    { name: 'Basic scheme', expect: { status: 401, code: 'invalid_api_key', param: null }, run: async () => await call('GET', '/v1/batches', { auth: false, headers: { authorization: `Basic ${KEY}` } }) },
    { name: 'bearer in lower case', expect: { status: 200, code: null, param: null }, run: async () => await call('GET', '/v1/batches', { auth: false, headers: { authorization: `bearer ${KEY}` } }) },
    { name: 'admin token as x-api-key', expect: { status: 401, code: 'invalid_admin_token', param: null }, run: async () => await call('GET', '/admin/keys', { auth: false, headers: { 'x-api-key': ADMIN } }) },
    { name: 'API key on the admin API', expect: { status: 401, code: 'invalid_admin_token', param: null }, run: async () => await call('GET', '/admin/keys') },
    { name: '%FF in the path', expect: { status: 400, code: 'invalid_path', param: null }, run: async () => await call('GET', '/v1/batches/%FF') },
    { name: '%FF in a file path', expect: { status: 400, code: 'invalid_path', param: null }, run: async () => await call('GET', '/v1/files/%FF%FE/content') },
    { name: '10,000-character batch id', expect: { status: 404, code: 'batch_not_found', param: null }, run: async () => await call('GET', `/v1/batches/batch_${'x'.repeat(10_000)}`) },
    { name: 'unknown route', expect: { status: 404, code: 'not_found', param: null }, run: async () => await call('GET', '/v1/nothing-here') },
    { name: 'limit 101', expect: { status: 400, code: 'integer_above_max_value', param: 'limit' }, run: async () => await call('GET', '/v1/batches?limit=101') },
    { name: 'limit 0', expect: { status: 400, code: 'integer_below_min_value', param: 'limit' }, run: async () => await call('GET', '/v1/batches?limit=0') },
    { name: 'limit not a number', expect: { status: 400, code: 'invalid_type', param: 'limit' }, run: async () => await call('GET', '/v1/batches?limit=lots') },
    { name: 'files order sideways', expect: { status: 400, code: 'invalid_value', param: 'order' }, run: async () => await call('GET', '/v1/files?order=sideways') },
    { name: 'unparseable JSON body', expect: { status: 400, code: 'invalid_json', param: null }, run: async () => await json('POST', '/v1/batches', '{"input_file_id":') },
    { name: 'JSON array body', expect: { status: 400, code: 'invalid_type', param: null }, run: async () => await json('POST', '/v1/batches', '[1,2]') },
    { name: 'empty JSON body on create', expect: { status: 400, code: 'invalid_type', param: null }, run: async () => await json('POST', '/v1/batches', '') },
    { name: 'missing input_file_id', expect: { status: 400, code: 'missing_required_parameter', param: 'input_file_id' }, run: async () => await json('POST', '/v1/batches', { endpoint: CHAT, completion_window: '24h' }) },
    { name: 'unknown create field', expect: { status: 400, code: 'unknown_parameter', param: 'priority' }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: CHAT, completion_window: '24h', priority: 'high' }) },
    { name: 'unsupported endpoint', expect: { status: 400, code: 'invalid_value', param: 'endpoint' }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: '/v1/images/generations', completion_window: '24h' }) },
    { name: 'completion window 48h', expect: { status: 400, code: 'invalid_value', param: 'completion_window' }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: CHAT, completion_window: '48h' }) },
    { name: 'endpoint of the wrong type', expect: { status: 400, code: 'invalid_type', param: 'endpoint' }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: 7, completion_window: '24h' }) },
    { name: 'metadata value a number', expect: { status: 400, code: 'invalid_type', param: 'metadata.k' }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: CHAT, completion_window: '24h', metadata: { k: 1 } }) },
    { name: 'metadata with 17 keys', expect: { status: 400, code: 'object_above_max_properties', param: 'metadata' }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: CHAT, completion_window: '24h', metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }) },
    { name: 'metadata value of 513 characters', expect: { status: 400, code: 'string_above_max_length', param: 'metadata.k' }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: CHAT, completion_window: '24h', metadata: { k: 'v'.repeat(513) } }) },
    { name: 'webhook over http', expect: { status: 400, code: 'invalid_webhook_url', param: 'webhook_url' }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: CHAT, completion_window: '24h', webhook_url: 'http://hooks.example.com/x' }) },
    { name: 'webhook to loopback', expect: { status: 400, code: 'invalid_webhook_url', param: 'webhook_url' }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: CHAT, completion_window: '24h', webhook_url: `https://127.0.0.1:${new URL(cluster.url).port}/admin/keys` }) },
    { name: 'webhook to the metadata service', expect: { status: 400, code: 'invalid_webhook_url', param: 'webhook_url' }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: CHAT, completion_window: '24h', webhook_url: 'https://169.254.169.254/latest/meta-data/' }) },
    { name: 'webhook to localhost', expect: { status: 400, code: 'invalid_webhook_url', param: 'webhook_url' }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: CHAT, completion_window: '24h', webhook_url: 'https://localhost/x' }) },
    { name: 'webhook to an IPv4-mapped loopback', expect: { status: 400, code: 'invalid_webhook_url', param: 'webhook_url' }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: CHAT, completion_window: '24h', webhook_url: 'https://[::ffff:127.0.0.1]/x' }) },
    { name: 'webhook file://', expect: { status: 400, code: 'invalid_webhook_url', param: 'webhook_url' }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: CHAT, completion_window: '24h', webhook_url: 'file:///etc/passwd' }) },
    { name: 'output_expires_after too short', expect: { status: 400, code: 'integer_below_min_value', param: 'output_expires_after.seconds' }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: CHAT, completion_window: '24h', output_expires_after: { anchor: 'created_at', seconds: 5 } }) },
    { name: 'output_expires_after bad anchor', expect: { status: 400, code: 'invalid_value', param: 'output_expires_after.anchor' }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: CHAT, completion_window: '24h', output_expires_after: { anchor: 'now', seconds: 3600 } }) },
    { name: '2 MB JSON body', expect: { status: 413, code: 'request_too_large', param: null }, run: async () => await json('POST', '/v1/batches', { input_file_id: 'f', endpoint: CHAT, completion_window: '24h', metadata: { k: 'v'.repeat(2 * 1024 * 1024) } }) },
    { name: 'text/csv body', expect: { status: 415, code: 'unsupported_media_type', param: null }, run: async () => await call('POST', '/v1/batches', { body: 'a,b', headers: { 'content-type': 'text/csv' } }) },
    { name: 'cancel an unknown batch', expect: { status: 404, code: 'batch_not_found', param: null }, run: async () => await json('POST', '/v1/batches/batch_nope/cancel', '') },
    { name: 'delete an unknown file with an empty JSON body', expect: { status: 404, code: 'file_not_found', param: null }, run: async () => await json('DELETE', '/v1/files/file-nope', '') },
    { name: 'multipart without a boundary', expect: { status: 400, code: 'invalid_multipart', param: null }, run: async () => await rawMultipart('multipart/form-data', Buffer.from('--x\r\n\r\n')) },
    { name: 'multipart with the wrong boundary', expect: { status: 400, code: 'invalid_multipart', param: null }, run: async () => await rawMultipart('multipart/form-data; boundary=zzz', Buffer.from('--abc\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--abc--\r\n')) },
    { name: 'truncated multipart', expect: { status: 400, code: 'invalid_multipart', param: null }, run: async () => await rawMultipart('multipart/form-data; boundary=abc', Buffer.from('--abc\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n{"custom_id":"a"')) },
    { name: 'upload without purpose', expect: { status: 400, code: 'missing_required_parameter', param: 'purpose' }, run: async () => await call('POST', '/v1/files', { body: form(lines(chat('a')), {}) }) },
    { name: 'upload with purpose fine-tune', expect: { status: 400, code: 'invalid_value', param: 'purpose' }, run: async () => await call('POST', '/v1/files', { body: form(lines(chat('a')), { purpose: 'fine-tune' }) }) },
    { name: 'upload of an empty file', expect: { status: 400, code: 'empty_file', param: 'file' }, run: async () => await call('POST', '/v1/files', { body: form('') }) },
    { name: 'upload that is not JSONL', expect: { status: 400, code: 'invalid_file_format', param: 'file' }, run: async () => await call('POST', '/v1/files', { body: form('name,prompt\nann,hello\n') }) },
    { name: 'upload in UTF-16', expect: { status: 400, code: 'invalid_encoding', param: 'file' }, run: async () => await call('POST', '/v1/files', { body: form(Buffer.from(`\ufeff${lines(chat('a'))}`, 'utf16le')) }) },
    { name: 'upload expiring after 60 s', expect: { status: 400, code: 'integer_below_min_value', param: 'expires_after.seconds' }, run: async () => await call('POST', '/v1/files', { body: form(lines(chat('a')), { purpose: 'batch', 'expires_after[anchor]': 'created_at', 'expires_after[seconds]': '60' }) }) },
    { name: 'upload as JSON, not multipart', expect: { status: 400, code: 'invalid_request_error', param: null }, run: async () => await json('POST', '/v1/files', { purpose: 'batch' }) },
    { name: 'Dria PUT to an unknown token', expect: { status: 404, code: 'upload_not_found', param: null }, run: async () => await call('PUT', '/api/v0/upload/not-a-token', { auth: false, body: '{}' }) },
    { name: 'Dria job of an unknown file', expect: { status: 404, code: 'file_not_found', param: null }, run: async () => await call('GET', '/api/v0/batch/job?file_id=file-nope') },
    { name: 'Dria complete_upload of an unknown file', expect: { status: 404, code: 'file_not_found', param: null }, run: async () => await json('POST', '/api/v0/batch/complete_upload', { id: 'file-nope' }) },
    { name: 'download with a forged signature', expect: { status: 403, code: 'invalid_signature', param: null }, run: async () => await call('GET', `/api/v0/files/file-x/download?expires=${Math.floor(Date.now() / 1000) + 60}&signature=AAAA`, { auth: false }) },
    { name: 'download without a signature', expect: { status: 400, code: 'missing_required_parameter', param: 'signature' }, run: async () => await call('GET', '/api/v0/files/file-x/download?expires=1', { auth: false }) }
  ]

  const fileCases: Case[] = [
    { name: 'line that is not JSON', expect: { status: 'failed', code: 'invalid_json_line', param: null, line: 2 }, run: async () => await validation(lines(chat('a'), '{"custom_id": "b",')) },
    { name: 'line that is an array', expect: { status: 'failed', code: 'invalid_json_line', param: null, line: 1 }, run: async () => await validation(lines('[1, 2]', chat('a'))) },
    { name: 'line 200,000 levels deep', expect: { status: 'failed', code: 'invalid_json_line', param: null, line: 2 }, run: async () => await validation(lines(chat('a'), deep(200_000))) },
    { name: 'missing custom_id', expect: { status: 'failed', code: 'missing_required_parameter', param: 'custom_id', line: 1 }, run: async () => await validation(lines({ method: 'POST', url: CHAT, body: chat('x').body })) },
    { name: 'custom_id a number', expect: { status: 'failed', code: 'invalid_type', param: 'custom_id', line: 1 }, run: async () => await validation(lines({ ...chat('x'), custom_id: 7 })) },
    { name: 'custom_id of 513 characters', expect: { status: 'failed', code: 'invalid_custom_id', param: 'custom_id', line: 1 }, run: async () => await validation(lines(chat('x'.repeat(513)))) },
    { name: 'duplicate custom_id', expect: { status: 'failed', code: 'duplicate_custom_id', param: 'custom_id', line: 3 }, run: async () => await validation(lines(chat('a'), chat('b'), chat('a'))) },
    { name: 'method GET', expect: { status: 'failed', code: 'invalid_method', param: 'method', line: 1 }, run: async () => await validation(lines({ ...chat('a'), method: 'GET' })) },
    { name: 'missing method', expect: { status: 'failed', code: 'missing_required_parameter', param: 'method', line: 1 }, run: async () => await validation(lines({ custom_id: 'a', url: CHAT, body: chat('a').body })) },
    { name: 'url not the batch endpoint', expect: { status: 'failed', code: 'invalid_url', param: 'url', line: 2 }, run: async () => await validation(lines(chat('a'), { ...chat('b'), url: '/v1/embeddings' })) },
    { name: 'missing url', expect: { status: 'failed', code: 'missing_required_parameter', param: 'url', line: 1 }, run: async () => await validation(lines({ custom_id: 'a', method: 'POST', body: chat('a').body })) },
    { name: 'missing body', expect: { status: 'failed', code: 'missing_required_parameter', param: 'body', line: 1 }, run: async () => await validation(lines({ custom_id: 'a', method: 'POST', url: CHAT })) },
    { name: 'body a string', expect: { status: 'failed', code: 'invalid_type', param: 'body', line: 1 }, run: async () => await validation(lines({ ...chat('a'), body: 'hello' })) },
    { name: 'missing model', expect: { status: 'failed', code: 'missing_required_parameter', param: 'body.model', line: 1 }, run: async () => await validation(lines({ ...chat('a'), body: { messages: [] } })) },
    { name: 'model no node serves', expect: { status: 'failed', code: 'model_not_found', param: 'body.model', line: 1 }, run: async () => await validation(lines(chat('a', { model: 'gpt-9' }))) },
    { name: 'line over 1 MiB', expect: { status: 'failed', code: 'line_too_long', param: null, line: 2 }, run: async () => await validation(lines(chat('a'), chat('b', { messages: [{ role: 'user', content: 'x'.repeat(1024 * 1024) }] }))) },
    { name: `${MAX_LINES + 1} lines`, expect: { status: 'failed', code: 'too_many_lines', param: null, line: MAX_LINES + 1 }, run: async () => await validation(lines(...Array.from({ length: MAX_LINES + 1 }, (_, i) => chat(`r${i}`)))) },
    { name: 'line that is not UTF-8', expect: { status: 'failed', code: 'invalid_encoding', param: null, line: 2 }, run: async () => await validation(Buffer.concat([Buffer.from(lines(chat('a'))), Buffer.from('{"custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{"model":"x","messages":[{"role":"user","content":"\xff\xfe"}]}}\n', 'latin1')])) },
    { name: 'prompt-only line without metadata.model', expect: { status: 'failed', code: 'missing_required_parameter', param: 'metadata.model', line: 1 }, run: async () => await validation(lines({ id: 1, prompt: 'hi' })) },
    { name: 'Dria line of another type', expect: { status: 'failed', code: 'invalid_value', param: 'type', line: 1 }, run: async () => await validation(lines({ custom_id: 'a', type: 'embeddings', version: 'v1', body: { messages: [] } }), { metadata: { model: MODEL } }) },
    { name: 'a valid file still runs', expect: { status: 'running', code: null, param: null, line: null }, run: async () => await validation(lines(chat('a'))) }
  ]

  /** Lines whose body is invalid: each gets its own 400 in the error file; the valid line runs. */
  const lineCases: Array<{ name: string, body: Record<string, unknown>, code: string, param: string | null, url?: string }> = [
    { name: 'role robot', body: { messages: [{ role: 'robot', content: 'x' }] }, code: 'invalid_value', param: 'messages[0].role' },
    { name: 'temperature 7', body: { temperature: 7 }, code: 'decimal_above_max_value', param: 'temperature' },
    { name: 'temperature a string', body: { temperature: 'hot' }, code: 'invalid_type', param: 'temperature' },
    { name: 'stream true', body: { stream: true }, code: 'unsupported_value', param: 'stream' },
    { name: 'tools', body: { tools: [{ type: 'function', function: { name: 'f' } }] }, code: 'unsupported_parameter', param: 'tools' },
    { name: 'tool_choice', body: { tool_choice: 'required' }, code: 'unsupported_parameter', param: 'tool_choice' },
    { name: 'n 3', body: { n: 3 }, code: 'unsupported_value', param: 'n' },
    { name: 'an unknown body field', body: { temprature: 0.5 }, code: 'unknown_parameter', param: 'temprature' },
    { name: 'messages empty', body: { messages: [] }, code: 'empty_array', param: 'messages' },
    { name: 'an image by URL (nodes fetch nothing)', body: { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] }, code: 'invalid_value', param: 'messages[0].content[0].image_url.url' },
    { name: 'a file part', body: { messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-1' } }] }] }, code: 'unsupported_value', param: 'messages[0].content[0].type' },
    { name: 'logprobs a string', body: { logprobs: 'yes' }, code: 'invalid_type', param: 'logprobs' },
    { name: 'top_logprobs without logprobs', body: { top_logprobs: 2 }, code: 'invalid_value', param: 'top_logprobs' },
    { name: 'max_tokens 0', body: { max_tokens: 0 }, code: 'integer_below_min_value', param: 'max_tokens' },
    { name: 'logit_bias', body: { logit_bias: { 50256: -100 } }, code: 'unsupported_parameter', param: 'logit_bias' },
    { name: 'a body nested 100 levels deep', body: { response_format: { type: 'json_schema', json_schema: { name: 's', schema: JSON.parse('{"a":'.repeat(100) + '1' + '}'.repeat(100)) } } }, code: 'invalid_value', param: null },
    { name: 'stop with 5 strings', body: { stop: ['a', 'b', 'c', 'd', 'e'] }, code: 'array_above_max_length', param: 'stop' }
  ]

  it.each(httpCases.map(c => [c.name, c] as const))('HTTP: %s', async (_name, c) => {
    const observed = await c.run()
    const ok = observed.status === c.expect.status && observed.code === c.expect.code && observed.param === c.expect.param
    results.push({ name: c.name, ok })
    expect(observed).toEqual(c.expect)
    await expectUp()
  })

  it.each(fileCases.map(c => [c.name, c] as const))('file: %s', async (_name, c) => {
    const observed = await c.run()
    results.push({ name: c.name, ok: JSON.stringify(observed) === JSON.stringify(c.expect) })
    expect(observed).toEqual(c.expect)
    await expectUp()
  })

  it(`lines: ${lineCases.length} invalid bodies answered each with its own 400 while the valid line runs`, async () => {
    const input = [chat('valid'), ...lineCases.map((c, i) => chat(`case-${i + 2}`, c.body))]
    const id = await upload(jsonl(input))
    const created = await (await fetch(`${cluster.url}/v1/batches`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ input_file_id: id, endpoint: CHAT, completion_window: '24h' }) })).json() as { id: string }
    let batch: { status: string, request_counts: { total: number, completed: number, failed: number }, output_file_id: string, error_file_id: string }
    for (;;) {
      batch = await (await fetch(`${cluster.url}/v1/batches/${created.id}`, { headers: { authorization: `Bearer ${KEY}` } })).json() as typeof batch
      if (!['validating', 'in_progress', 'finalizing'].includes(batch.status)) break
      await sleep(50)
    }
    expect(batch.status).toBe('completed')
    expect(batch.request_counts).toEqual({ total: input.length, completed: 1, failed: lineCases.length })
    const read = async (fileId: string): Promise<any[]> => (await (await fetch(`${cluster.url}/v1/files/${fileId}/content`, { headers: { authorization: `Bearer ${KEY}` } })).text()).trim().split('\n').map(l => JSON.parse(l))
    expect((await read(batch.output_file_id)).map(l => l.custom_id)).toEqual(['valid'])
    const errors = new Map((await read(batch.error_file_id)).map(l => [l.custom_id as string, l]))
    for (const [i, c] of lineCases.entries()) {
      // The line number is the custom_id's: case-2 is line 2.
      const entry = errors.get(`case-${i + 2}`)
      const observed = { status: entry?.response?.status_code, code: entry?.response?.body?.error?.code, param: entry?.response?.body?.error?.param }
      results.push({ name: `line: ${c.name}`, ok: JSON.stringify(observed) === JSON.stringify({ status: 400, code: c.code, param: c.param }) })
      expect(observed, c.name).toEqual({ status: 400, code: c.code, param: c.param })
    }
    await expectUp()
  })

  async function expectUp (): Promise<void> {
    expect(cluster.coordinator.child.exitCode).toBeNull()
    expect((await fetch(`${cluster.url}/health`)).status).toBe(200)
  }
})
