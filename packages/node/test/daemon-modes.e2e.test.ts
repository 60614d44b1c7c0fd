import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLlamaCppEngine } from '@dria/engines'
import type { InferenceEngine } from '@dria/engines'
import { createDriaHost } from '@dria/p2p'
import type { DriaHost } from '@dria/p2p'
import { createLogger, verifyTaskResult } from '@dria/protocol'
import { SHARED_MODELS_DIR, spawnDria, startNodeProcess, startOllamaServer, tempDir } from '@dria/testkit'
import type { OllamaServer } from '@dria/testkit'
import { chatTask, nodeSession } from './session-client.js'

const MODEL = 'stories260K'
const logger = createLogger('test')

describe('dria-node start modes', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let bootstrap: DriaHost

  beforeAll(async () => {
    dir = await tempDir('dria-node-modes-')
    bootstrap = await createDriaHost({ listenPort: 0 })
  })

  afterAll(async () => {
    await bootstrap?.stop()
    await dir?.remove()
  })

  const chat = async (peer: string, model: string): Promise<{ text: string }> => {
    const session = await nodeSession(bootstrap, peer)
    const peerId = peerIdFromString(peer)
    const response = await session.run(chatTask(`t-${model}`, model, { messages: [{ role: 'user', content: 'Hello' }], max_tokens: 16, temperature: 0 }), { deadlineMs: 30_000 })
    session.close()
    expect(response.result?.error).toBeUndefined()
    await verifyTaskResult(peerId, response.result!)
    return JSON.parse(new TextDecoder().decode(response.result!.output)) as { text: string }
  }

  it('generates its own model when it has none, and serves it', async () => {
    const node = await startNodeProcess({ dataDir: join(dir.path, 'fresh'), bootstrap: bootstrap.getMultiaddrs().map(String) })
    try {
      expect(existsSync(join(dir.path, 'fresh', 'models', 'dria-tiny.gguf'))).toBe(true)
      expect(node.lines.find(l => l.msg === 'node ready')?.models).toEqual(['dria-tiny'])
      expect(typeof (await chat(node.peerId, 'dria-tiny')).text).toBe('string')
    } finally {
      await node.stop()
    }
  })

  it('drops models under --min-tps with a log line and refuses to start with none left', async () => {
    const proc = spawnDria('node', ['start', '--data-dir', join(dir.path, 'slow'), '--engine', 'llamacpp', '--threads', '1', '--min-tps', '100000000'])
    const dropped = await proc.waitFor('model dropped: slower than --min-tps')
    expect(dropped).toMatchObject({ model: 'dria-tiny', minTps: 100000000 })
    expect(dropped.tokensPerSecond).toBeGreaterThan(0)
    const fatal = await proc.waitFor('node failed to start')
    expect((fatal.err as { code: string }).code).toBe('NO_MODELS')
    expect(await proc.stop()).toBe(1)
  })

  describe.runIf(existsSync(join(SHARED_MODELS_DIR, `${MODEL}.gguf`)))('with an Ollama server', () => {
    let engine: InferenceEngine
    let ollama: OllamaServer

    beforeAll(async () => {
      engine = await createLlamaCppEngine({ logger }, { modelsDir: SHARED_MODELS_DIR, models: [MODEL], threads: 1, slots: 2 })
      ollama = await startOllamaServer({ engine })
    })

    afterAll(async () => {
      await ollama?.close()
      await engine?.close()
    })

    it('uses Ollama when --ollama-host answers (engine auto) and serves its models', async () => {
      const node = await startNodeProcess({
        dataDir: join(dir.path, 'ollama'),
        bootstrap: bootstrap.getMultiaddrs().map(String),
        args: ['--engine', 'auto', '--ollama-host', ollama.url]
      })
      try {
        expect(node.lines.some(l => l.msg === 'using ollama engine')).toBe(true)
        expect(node.lines.find(l => l.msg === 'node ready')?.models).toEqual([MODEL])
        const { text } = await chat(node.peerId, MODEL)
        expect(text).toBe((await engine.chat({ model: MODEL, messages: [{ role: 'user', content: 'Hello' }], maxTokens: 16, temperature: 0 })).text)
        expect(ollama.received.some(r => r.path === '/api/chat')).toBe(true)
      } finally {
        await node.stop()
      }
    })
  })
})
