import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLlamaCppEngine } from '@dria/engines'
import type { LlamaCppEngine, ModelInfo } from '@dria/engines'
import { TaskKind, createLogger } from '@dria/protocol'
import type { TaskRequest } from '@dria/protocol'
import { testModels } from '@dria/testkit'
import { createTaskRunner } from './task-runner.js'
import type { PreparedTask } from './task-runner.js'

const models = await testModels()
const MODEL = models.chat
const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${Buffer.from('png').toString('base64')}` } }
const audio = { type: 'input_audio', input_audio: { data: Buffer.from('RIFF').toString('base64'), format: 'wav' } }

function task (content: unknown): TaskRequest {
  const body = { model: MODEL, messages: [{ role: 'user', content }], max_tokens: 4, temperature: 0 }
  return { taskId: 't1', attempt: 1, kind: TaskKind.TASK_KIND_CHAT, model: MODEL, body: new TextEncoder().encode(JSON.stringify(body)), timeoutMs: 30_000 }
}

describe('task runner and media', () => {
  let engine: LlamaCppEngine
  let info: ModelInfo

  beforeAll(async () => {
    engine = await createLlamaCppEngine({ logger: createLogger('test', 'silent') }, { modelsDir: models.dir, models: [MODEL], threads: 1, slots: 1 })
    info = (await engine.listModels())[0]
  })
  afterAll(async () => { await engine?.close() })

  async function run (model: ModelInfo, content: unknown): Promise<{ error?: { code: string, retryable: boolean }, output: string }> {
    const runner = createTaskRunner({ engine, privateKey: await generateKeyPair('Ed25519'), logger: createLogger('test', 'silent') }, { models: new Map([[MODEL, model]]) })
    const prepared = runner.prepare(task(content)) as PreparedTask
    expect(prepared).toHaveProperty('inference')
    const result = await runner.run(prepared, new AbortController().signal, 0)
    expect(result.signature.byteLength).toBeGreaterThan(0)
    return { error: result.error ?? undefined, output: new TextDecoder().decode(result.output) }
  }

  it('refuses images and audio for a model its engine does not report as reading them, as the request\'s fault', async () => {
    expect((await run(info, [{ type: 'text', text: 'What is it?' }, image])).error).toMatchObject({ code: 'VISION_UNSUPPORTED', retryable: false })
    expect((await run(info, [{ type: 'text', text: 'What is it?' }, audio])).error).toMatchObject({ code: 'AUDIO_UNSUPPORTED', retryable: false })
    expect((await run(info, 'Once upon a time')).error).toBeUndefined()
  })

  it('lets images through to a model that reads them', async () => {
    const result = await run({ ...info, media: ['vision'] }, [{ type: 'text', text: 'What is it?' }, image])
    expect(result.error).toBeUndefined()
    expect(JSON.parse(result.output).text).toEqual(expect.any(String))
  })
})
