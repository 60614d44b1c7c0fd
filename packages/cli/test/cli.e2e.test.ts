import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BINARIES } from '@dria/testkit'
import {
  CHAT_MODEL, countLines, dria, freePort, models, prompts, readJsonl, spawnCli, startCliNetwork, waitUntil, writeJsonl
} from './cli-harness.js'
import type { CliNetwork } from './cli-harness.js'

const API_KEY = 'sk-cli-e2e'
const ADMIN_TOKEN = 'admin-cli-e2e'
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')

describe('dria --version', () => {
  it.each(Object.entries(BINARIES).filter(([name]) => name !== 'test-node'))('%s prints its version', async (_name, bin) => {
    const { spawnSync } = await import('node:child_process')
    const run = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' })
    expect(run.status).toBe(0)
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })
})

describe('dria batch, as documented', () => {
  let network: CliNetwork
  let input: string
  const run = async (args: string[], env: Record<string, string> = {}): ReturnType<typeof dria> => await dria(args, { env: { ...network.env, ...env }, cwd: network.dir })

  beforeAll(async () => {
    // One node serving the chat model: its stories end on their own, so the default --max-tokens stays quick.
    network = await startCliNetwork({ apiKey: API_KEY, nodes: [[CHAT_MODEL]], slots: 4, adminToken: ADMIN_TOKEN })
    input = join(network.dir, 'prompts.jsonl')
    await writeJsonl(input, prompts(12))
  }, 120_000)

  afterAll(async () => {
    await network?.stop()
  })

  it('dria batch prompts.jsonl -o results.jsonl: one {id, model, output, tokens} line per prompt', async () => {
    const result = await run(['batch', 'prompts.jsonl', '-o', 'results.jsonl'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toBe('')
    // Not a terminal: no progress bar, a summary line.
    expect(result.stderr).toMatch(/^done: 12 ok, 0 failed in [\d.]+ s .* → results\.jsonl\n$/)
    const lines = await readJsonl(join(network.dir, 'results.jsonl'))
    expect(lines.map(l => l.id).sort()).toEqual(prompts(12).map(p => p.id).sort())
    for (const line of lines) {
      expect(Object.keys(line).sort()).toEqual(['id', 'model', 'output', 'tokens'])
      expect(line.model).toBe(CHAT_MODEL)
      expect(typeof line.output).toBe('string')
      expect(Number.isInteger(line.tokens)).toBe(true)
    }
    // Sampled at the default temperature a story may end at once; most do not.
    expect(lines.filter(line => line.output.length > 0 && line.tokens > 0).length).toBeGreaterThan(6)
    // Re-running with the same -o skips every id already there.
    const again = await run(['batch', 'prompts.jsonl', '-o', 'results.jsonl'])
    expect(again.code).toBe(0)
    expect(again.stderr).toContain('12 already done')
    expect(await readJsonl(join(network.dir, 'results.jsonl'))).toEqual(lines)
  })

  it('dria batch -m <model> prompts.jsonl -o results.jsonl, and -c 20', async () => {
    const named = await run(['batch', '-m', CHAT_MODEL, 'prompts.jsonl', '-o', 'named.jsonl'])
    expect(named.code, named.stderr).toBe(0)
    const lines = await readJsonl(join(network.dir, 'named.jsonl'))
    expect(lines.map(l => l.id).sort()).toEqual(prompts(12).map(p => p.id).sort())
    expect(lines.every(l => l.model === CHAT_MODEL)).toBe(true)

    const wide = await run(['batch', 'prompts.jsonl', '-c', '20', '-o', 'c20.jsonl'])
    expect(wide.code, wide.stderr).toBe(0)
    expect(await readJsonl(join(network.dir, 'c20.jsonl'))).toHaveLength(12)
  })

  it('without -o the results go to stdout; a model nobody serves is each line\'s 503', async () => {
    const stdout = await run(['batch', 'prompts.jsonl', '--max-tokens', '16'])
    expect(stdout.code, stdout.stderr).toBe(0)
    const lines = stdout.stdout.trim().split('\n').map(l => JSON.parse(l))
    expect(lines).toHaveLength(12)
    expect(lines.every(l => l.model === CHAT_MODEL && l.tokens <= 16)).toBe(true)
    expect(stdout.stderr).toMatch(/→ stdout\n$/)

    const nobody = await run(['batch', '-m', 'nobody-serves-this', 'prompts.jsonl', '--retries', '0'])
    expect(nobody.code).toBe(1)
    const failures = nobody.stdout.trim().split('\n').map(l => JSON.parse(l))
    expect(failures).toHaveLength(12)
    expect(failures[0]).toEqual({ id: expect.any(String), model: 'nobody-serves-this', error: '503: no nodes available' })
  })

  it('--schema and --schema-file put the parsed object in output', async () => {
    // The generated model is character noise: greedy, it never closes a JSON string, so there
    // the fields are booleans (the grammar allows only `true`/`false`).
    const fields = models.source === 'shared' ? { sentiment: 'string', confidence: 'number' } : { happy: 'boolean', sure: 'boolean' }
    const spec = Object.entries(fields).map(([name, type]) => type === 'string' ? name : `${name}:${type}`).join(',')
    const schema = await run(['batch', 'prompts.jsonl', '-o', 'schema.jsonl', '--schema', spec, '--max-tokens', '200', '--temperature', '0'])
    expect(schema.code, schema.stderr + await readFile(join(network.dir, 'schema.jsonl'), 'utf8').catch(() => '')).toBe(0)
    for (const line of await readJsonl(join(network.dir, 'schema.jsonl'))) {
      expect(Object.keys(line.output).sort()).toEqual(Object.keys(fields).sort())
      for (const [name, type] of Object.entries(fields)) expect(typeof line.output[name]).toBe(type)
    }
    await writeFile(join(network.dir, 'schema.json'), JSON.stringify({ type: 'object', properties: { happy: { type: 'boolean' } }, required: ['happy'], additionalProperties: false }))
    const file = await run(['batch', 'prompts.jsonl', '-o', 'schema-file.jsonl', '--schema-file', 'schema.json', '--max-tokens', '100', '--temperature', '0'])
    expect(file.code, file.stderr).toBe(0)
    for (const line of await readJsonl(join(network.dir, 'schema-file.jsonl'))) expect(typeof line.output.happy).toBe('boolean')
  })

  it('--json: results on stdout, no progress, the summary as JSON on stderr', async () => {
    const result = await run(['batch', 'prompts.jsonl', '--json', '--max-tokens', '8'])
    expect(result.code).toBe(0)
    expect(result.stdout.trim().split('\n')).toHaveLength(12)
    expect(JSON.parse(result.stderr)).toEqual({ ok: 12, failed: 0, skipped: 0, left: 0, seconds: expect.any(Number), output: null, interrupted: false })
  })

  it('attachments: a missing file is that line\'s error naming the path; a text model never gets an image', async () => {
    await writeFile(join(network.dir, 'cat.png'), PNG)
    await writeJsonl(join(network.dir, 'attach.jsonl'), [
      { id: 'text', prompt: 'Once upon a time' },
      { id: 'missing', prompt: 'What is this?', attachment: 'nope/dog.png' },
      { id: 'image', prompt: 'What is this?', attachment: 'cat.png' }
    ])
    const auto = await run(['batch', 'attach.jsonl', '-o', 'attach-results.jsonl', '--max-tokens', '8', '--retries', '0'])
    expect(auto.code).toBe(1)
    const byId = Object.fromEntries((await readJsonl(join(network.dir, 'attach-results.jsonl'))).map(l => [l.id, l]))
    expect(byId.text).toMatchObject({ model: CHAT_MODEL, tokens: expect.any(Number) })
    expect(byId.missing).toEqual({ id: 'missing', model: null, error: `attachment not found: ${join(network.dir, 'nope', 'dog.png')}` })
    expect(byId.image).toEqual({ id: 'image', model: null, error: '503: no nodes available that read images' })

    const named = await run(['batch', '-m', CHAT_MODEL, 'attach.jsonl', '--max-tokens', '8'])
    const image = named.stdout.trim().split('\n').map(l => JSON.parse(l)).find(l => l.id === 'image')
    expect(image).toEqual({ id: 'image', model: CHAT_MODEL, error: `400: model ${CHAT_MODEL} does not read images` })
  })

  it('--batch: the Batches API, same output lines, the batch id remembered until the results are in', async () => {
    const before = (await network.openai.batches.list()).data.length
    const result = await run(['batch', 'prompts.jsonl', '-o', 'batch.jsonl', '--batch', '--max-tokens', '16', '--poll-ms', '100'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/batch batch_\w+ submitted with 12 lines/)
    const lines = await readJsonl(join(network.dir, 'batch.jsonl'))
    expect(lines.map(l => l.id).sort()).toEqual(prompts(12).map(p => p.id).sort())
    expect(lines.every(l => l.model === CHAT_MODEL && typeof l.output === 'string' && l.tokens > 0)).toBe(true)
    expect(existsSync(join(network.dir, 'batch.jsonl.batch.json'))).toBe(false)
    const batches = (await network.openai.batches.list()).data
    expect(batches.length).toBe(before + 1)

    const results = await run(['batches', 'results', batches[0].id])
    expect(results.code).toBe(0)
    expect(results.stdout.trim().split('\n').map(l => JSON.parse(l).custom_id).sort()).toEqual(prompts(12).map(p => p.id).sort())
  })

  it('Ctrl-C keeps every finished line, says how to resume, and the re-run finishes the rest', async () => {
    const many = join(network.dir, 'many.jsonl')
    await writeJsonl(many, prompts(60, 'm'))
    const output = join(network.dir, 'many-results.jsonl')
    const first = spawnCli(['batch', 'many.jsonl', '-o', 'many-results.jsonl', '-c', '2', '--max-tokens', '64'], { env: network.env, cwd: network.dir })
    await waitUntil(async () => await countLines(output) >= 5, 'five finished lines')
    first.child.kill('SIGINT')
    const stopped = await first.done
    expect(stopped.code).toBe(130)
    expect(stopped.stderr).toMatch(/interrupted: \d+ ok, 0 failed, \d+ left; finished lines are in many-results\.jsonl; run the same command again to resume/)
    const kept = await readJsonl(output)
    expect(kept.length).toBeGreaterThanOrEqual(5)
    expect(kept.length).toBeLessThan(60)

    const second = await run(['batch', 'many.jsonl', '-o', 'many-results.jsonl', '-c', '8', '--max-tokens', '64'])
    expect(second.code, second.stderr).toBe(0)
    expect(second.stderr).toContain(`${kept.length} already done`)
    const all = await readJsonl(output)
    expect(all).toHaveLength(60)
    expect(new Set(all.map(l => l.id)).size).toBe(60)
    expect(all.slice(0, kept.length)).toEqual(kept)
  })

  it('--batch: Ctrl-C leaves the batch running and the re-run attaches to it', async () => {
    await writeJsonl(join(network.dir, 'b120.jsonl'), prompts(120, 'b'))
    const state = join(network.dir, 'b120-results.jsonl.batch.json')
    const before = (await network.openai.batches.list()).data.length
    const first = spawnCli(['batch', 'b120.jsonl', '-o', 'b120-results.jsonl', '--batch', '--max-tokens', '64', '--poll-ms', '100'], { env: network.env, cwd: network.dir })
    await waitUntil(() => existsSync(state), 'the batch id to be remembered')
    first.child.kill('SIGINT')
    const stopped = await first.done
    expect(stopped.code).toBe(130)
    expect(stopped.stderr).toContain('the batch keeps running; run the same command again')
    const batchId = JSON.parse(await (await import('node:fs/promises')).readFile(state, 'utf8')).batch_id as string

    const second = await run(['batch', 'b120.jsonl', '-o', 'b120-results.jsonl', '--batch', '--max-tokens', '64', '--poll-ms', '100'])
    expect(second.code, second.stderr).toBe(0)
    expect(second.stderr).toContain(`attaching to batch ${batchId}`)
    const lines = await readJsonl(join(network.dir, 'b120-results.jsonl'))
    expect(new Set(lines.map(l => l.id)).size).toBe(120)
    expect(lines).toHaveLength(120)
    expect((await network.openai.batches.list()).data.length).toBe(before + 1)
    expect(existsSync(state)).toBe(false)
  })

  it('one-line errors and exit code 2 for usage and input errors', async () => {
    await writeFile(join(network.dir, 'bad.jsonl'), '{"prompt": "ok"}\n{"prompt": \n')
    const bad = await run(['batch', 'bad.jsonl'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe('error: bad.jsonl:2: not valid JSON\n')

    const missing = await run(['batch', 'nothing-here.jsonl'])
    expect(missing).toMatchObject({ code: 2, stderr: 'error: cannot read nothing-here.jsonl: ENOENT\n' })

    const unknown = await run(['batch', 'prompts.jsonl', '--bogus'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("unknown option '--bogus'")

    const badNumber = await run(['batch', 'prompts.jsonl', '-c', '0'])
    expect(badNumber.code).toBe(2)

    const schema = await run(['batch', 'prompts.jsonl', '--schema', 'a:date'])
    expect(schema.code).toBe(2)
    expect(schema.stderr).toMatch(/^error: --schema: "a:date"/)

    const noKey = await run(['batch', 'prompts.jsonl'], { DRIA_API_KEY: '' })
    expect(noKey).toMatchObject({ code: 2, stderr: 'error: no API key: set --api-key or DRIA_API_KEY\n' })

    const wrongKey = await run(['batch', 'prompts.jsonl', '--api-key', 'sk-wrong'])
    expect(wrongKey.code).toBe(2)
    expect(wrongKey.stderr).toBe(`error: the coordinator at ${network.coordinator.url} refused the API key (invalid_api_key) — set --api-key or DRIA_API_KEY\n`)

    const url = `http://127.0.0.1:${await freePort()}`
    const unreachable = await run(['batch', 'prompts.jsonl', '--url', url, '--retries', '0'])
    expect(unreachable.code).toBe(2)
    expect(unreachable.stderr).toBe(`error: cannot reach coordinator at ${url}: ECONNREFUSED — set --url or DRIA_URL\n`)
  })

  it('dria keys create|list|revoke with the admin token', async () => {
    const env = { DRIA_ADMIN_TOKEN: ADMIN_TOKEN }
    const created = await run(['keys', 'create', 'ci', '--plan', 'developer'], env)
    expect(created.code, created.stderr).toBe(0)
    const key = JSON.parse(created.stdout)
    expect(key).toMatchObject({ name: 'ci', plan: 'developer', key: expect.stringMatching(/^sk-/) })

    // The new key works for the API.
    const models = await run(['models'], { DRIA_API_KEY: key.key })
    expect(models.code).toBe(0)
    expect(JSON.parse(models.stdout).map((m: { id: string }) => m.id)).toContain(CHAT_MODEL)

    const list = await run(['keys', 'list'], env)
    expect(JSON.parse(list.stdout).map((k: { id: string }) => k.id)).toContain(key.id)
    const revoked = await run(['keys', 'revoke', key.id], env)
    expect(JSON.parse(revoked.stdout)).toMatchObject({ id: key.id, deleted: true })
    expect((await run(['models'], { DRIA_API_KEY: key.key })).code).toBe(2)

    const noToken = await run(['keys', 'list'])
    expect(noToken).toMatchObject({ code: 2, stderr: 'error: no admin token: set --admin-token or DRIA_ADMIN_TOKEN\n' })
    const wrong = await run(['keys', 'list', '--admin-token', 'nope'])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain('refused the admin token (invalid_admin_token) — set --admin-token or DRIA_ADMIN_TOKEN')
  })
})
