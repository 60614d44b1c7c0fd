import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLlamaCppEngine } from '@dria/engines'
import type { LlamaCppEngine } from '@dria/engines'
import { createLogger } from '@dria/protocol'
import { startOllamaServer } from '@dria/testkit'
import type { OllamaServer } from '@dria/testkit'
import {
  CHAT_MODEL, MODELS_DIR, OTHER_MODEL, TEXT_MODEL, countLines, dria, prompts, readJsonl, spawnCli, startCliNetwork, waitForModels, waitUntil, writeJsonl
} from './cli-harness.js'
import type { CliNetwork } from './cli-harness.js'

const API_KEY = 'sk-cli-network'
/** Served through the Ollama-protocol test server, which reports it as a vision model. */
const VISION_MODEL = OTHER_MODEL
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')

describe('dria batch on a changing network', () => {
  let network: CliNetwork
  let llama: LlamaCppEngine
  let ollama: OllamaServer
  const run = async (args: string[]): ReturnType<typeof dria> => await dria(args, { env: network.env, cwd: network.dir })

  beforeAll(async () => {
    llama = await createLlamaCppEngine({ logger: createLogger('test', 'silent') }, { modelsDir: MODELS_DIR, models: [VISION_MODEL], threads: 1, slots: 2 })
    ollama = await startOllamaServer({ engine: llama }, { media: { [VISION_MODEL]: ['vision'] } })
    network = await startCliNetwork({
      apiKey: API_KEY,
      slots: 2,
      nodes: [[CHAT_MODEL], [TEXT_MODEL], { models: [VISION_MODEL], args: ['--engine', 'ollama', '--ollama-host', ollama.url] }]
    })
  }, 120_000)

  afterAll(async () => {
    await network?.stop()
    await ollama?.close()
    await llama?.close()
  })

  it('routes image prompts to the vision model, whose engine receives the image', async () => {
    const models = await network.openai.models.list()
    expect(models.data.find(m => m.id === VISION_MODEL)).toMatchObject({ capabilities: expect.arrayContaining(['vision']) })
    expect(models.data.find(m => m.id === CHAT_MODEL)).not.toMatchObject({ capabilities: expect.arrayContaining(['vision']) })

    await writeFile(join(network.dir, 'cat.png'), PNG)
    await writeJsonl(join(network.dir, 'vision.jsonl'), [
      ...prompts(6, 't'),
      { id: 'file', prompt: 'What is in the picture?', attachment: 'cat.png' },
      { id: 'data', prompt: 'Describe it.', attachment: `data:image/png;base64,${PNG.toString('base64')}` }
    ])
    const result = await run(['batch', 'vision.jsonl', '-o', 'vision-results.jsonl', '--max-tokens', '12'])
    expect(result.code, result.stderr).toBe(0)
    const byId = Object.fromEntries((await readJsonl(join(network.dir, 'vision-results.jsonl'))).map(l => [l.id, l]))
    expect(byId.file).toMatchObject({ model: VISION_MODEL, output: expect.any(String) })
    expect(byId.data).toMatchObject({ model: VISION_MODEL, output: expect.any(String) })
    // Text prompts are spread over every model that serves chat.
    expect(new Set(prompts(6, 't').map(p => byId[p.id].model)).size).toBeGreaterThan(1)
    const withImages = ollama.received.filter(r => r.path === '/api/chat' && Array.isArray((r.body?.messages as any[])?.[0]?.images))
    expect(withImages.map(r => (r.body!.messages as any[])[0])).toEqual([
      { role: 'user', content: expect.any(String), images: [PNG.toString('base64')] },
      { role: 'user', content: expect.any(String), images: [PNG.toString('base64')] }
    ])
  })

  it('survives a coordinator restart mid-run: every line exactly once', async () => {
    await writeJsonl(join(network.dir, 'restart.jsonl'), prompts(120, 'r'))
    const output = join(network.dir, 'restart-results.jsonl')
    const cli = spawnCli(['batch', 'restart.jsonl', '-o', 'restart-results.jsonl', '-m', CHAT_MODEL, '-c', '4', '--max-tokens', '48'], { env: network.env, cwd: network.dir })
    await waitUntil(async () => await countLines(output) >= 10, 'ten finished lines')
    await network.coordinator.kill()
    // The restart came mid-run.
    expect(await countLines(output)).toBeLessThan(100)
    await network.restartCoordinator({ downMs: 3_000 })
    const result = await cli.done
    expect(result.code, result.stderr).toBe(0)
    const lines = await readJsonl(output)
    expect(lines).toHaveLength(120)
    expect(new Set(lines.map(l => l.id)).size).toBe(120)
    expect(lines.every(l => l.model === CHAT_MODEL && typeof l.output === 'string')).toBe(true)
    await waitForModels(network, [CHAT_MODEL, TEXT_MODEL, VISION_MODEL])
  })

  it('--batch survives a coordinator restart while it polls', async () => {
    await writeJsonl(join(network.dir, 'restart-batch.jsonl'), prompts(90, 'q'))
    const cli = spawnCli(['batch', 'restart-batch.jsonl', '-o', 'restart-batch-results.jsonl', '--batch', '-m', CHAT_MODEL, '--max-tokens', '64', '--poll-ms', '100'], { env: network.env, cwd: network.dir })
    await waitUntil(() => cli.stderr().includes('submitted'), 'the batch to be submitted')
    await network.coordinator.kill()
    expect(cli.child.exitCode).toBeNull()
    await network.restartCoordinator({ downMs: 2_000 })
    const result = await cli.done
    expect(result.code, result.stderr).toBe(0)
    const lines = await readJsonl(join(network.dir, 'restart-batch-results.jsonl'))
    expect(new Set(lines.map(l => l.id)).size).toBe(90)
    expect(lines).toHaveLength(90)
    await waitForModels(network, [CHAT_MODEL, TEXT_MODEL, VISION_MODEL])
  })

  it('falls back to the next suitable model when the chosen model\'s only node dies', async () => {
    await writeJsonl(join(network.dir, 'fallback.jsonl'), prompts(80, 'f'))
    const output = join(network.dir, 'fallback-results.jsonl')
    const cli = spawnCli(['batch', 'fallback.jsonl', '-o', 'fallback-results.jsonl', '-c', '4', '--max-tokens', '24'], { env: network.env, cwd: network.dir })
    await waitUntil(async () => (await countLines(output)) >= 6, 'six finished lines')
    await network.nodes[0].kill() // the only node serving CHAT_MODEL
    const killedAt = await countLines(output)
    expect(killedAt).toBeLessThan(60)
    const result = await cli.done
    expect(result.code, result.stderr).toBe(0)
    const lines = await readJsonl(output)
    expect(lines).toHaveLength(80)
    expect(new Set(lines.map(l => l.id)).size).toBe(80)
    expect(lines.every(l => typeof l.output === 'string')).toBe(true)
    expect(lines.slice(0, killedAt).some(l => l.model === CHAT_MODEL)).toBe(true)
    // A few lines may have been answered while the kill was under way; after that, only the others.
    expect(lines.slice(killedAt + 4).every(l => l.model !== CHAT_MODEL)).toBe(true)
  })
})
