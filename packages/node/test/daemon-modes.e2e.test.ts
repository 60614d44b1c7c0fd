import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GENERATED_MODEL_NAME, createLlamaCppEngine } from '@dria/engines'
import type { InferenceEngine } from '@dria/engines'
import { createDriaHost } from '@dria/p2p'
import type { DriaHost } from '@dria/p2p'
import { createLogger, verifyTaskResult } from '@dria/protocol'
import { BINARIES, spawnDria, startCoordinatorProcess, startNodeProcess, startOllamaServer, tempDir, testModels } from '@dria/testkit'
import type { OllamaServer } from '@dria/testkit'
import { chatTask, nodeSession } from './session-client.js'

const models = await testModels()
const MODEL = models.main
const logger = createLogger('test')
const run = promisify(execFile)

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

  it('serves the generated model with --demo-model when it has no other, and says it is a demo model', async () => {
    const node = await startNodeProcess({ dataDir: join(dir.path, 'fresh'), bootstrap: bootstrap.getMultiaddrs().map(String), args: ['--demo-model'] })
    try {
      expect(existsSync(join(dir.path, 'fresh', 'models', `${GENERATED_MODEL_NAME}.gguf`))).toBe(true)
      expect(node.lines.some(l => l.msg === 'serving the generated demo model (--demo-model): it writes word-like noise')).toBe(true)
      expect(node.lines.find(l => l.msg === 'node ready')?.models).toEqual([GENERATED_MODEL_NAME])
      expect(typeof (await chat(node.peerId, GENERATED_MODEL_NAME)).text).toBe('string')
    } finally {
      await node.stop()
    }
  })

  it('drops models under --min-tps with a log line and refuses to start with none left', async () => {
    const proc = spawnDria('node', ['start', '--data-dir', join(dir.path, 'slow'), '--status-port', '0', '--engine', 'llamacpp', '--demo-model', '--threads', '1', '--min-tps', '100000000'])
    const dropped = await proc.waitFor('model dropped: slower than --min-tps')
    expect(dropped).toMatchObject({ model: GENERATED_MODEL_NAME, minTps: 100000000 })
    expect(dropped.tokensPerSecond).toBeGreaterThan(0)
    const fatal = await proc.waitFor('node failed to start')
    expect(fatal.code).toBe('MODELS_TOO_SLOW')
    expect(await proc.stop()).toBe(1)
  })

  it('measures every model for `benchmark`, and reads the same engine options', async () => {
    const { stdout } = await run(process.execPath, [BINARIES.node, 'benchmark', '--data-dir', join(dir.path, 'bench'), '--engine', 'llamacpp', '--models-dir', models.dir, '--models', `${MODEL},${models.other}`, '--threads', '1', '--rounds', '2', '--json'])
    const result = JSON.parse(stdout) as { engine: string, models: Array<{ name: string, tokensPerSecond: number, min: number, max: number, rounds: number }> }
    expect(result.engine).toBe('llamacpp')
    expect(result.models.map(m => m.name)).toEqual([MODEL, models.other])
    for (const model of result.models) {
      expect(model.rounds).toBe(2)
      expect(model.tokensPerSecond).toBeGreaterThan(0)
      expect(model.min).toBeLessThanOrEqual(model.tokensPerSecond)
      expect(model.max).toBeGreaterThanOrEqual(model.tokensPerSecond)
    }
  })

  it('joins through --coordinator-url: the coordinator lists its model', async () => {
    const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'coordinator'), apiKeys: ['sk-url'] })
    try {
      // localhost: the node dials the URL's host name (/dns4/localhost/…), as in a compose network.
      const url = coordinator.url.replace('127.0.0.1', 'localhost')
      const node = spawnDria('node', ['start', '--data-dir', join(dir.path, 'via-url'), '--status-port', '0', '--engine', 'llamacpp', '--demo-model', '--threads', '1', '--coordinator-url', url])
      try {
        const found = await node.waitFor('coordinator found')
        expect((found.bootstrap as string[])[0]).toMatch(new RegExp(`^/dns4/localhost/tcp/\\d+/p2p/${coordinator.multiaddrs[0].split('/p2p/')[1]}$`))
        await node.waitFor('connected to the network')
        let listed = false
        for (let i = 0; i < 100 && !listed; i++) {
          const answer = await (await fetch(`${coordinator.url}/v1/models`, { headers: { authorization: 'Bearer sk-url' } })).json() as { data: Array<{ id: string }> }
          listed = answer.data.some(m => m.id === GENERATED_MODEL_NAME)
          if (!listed) await new Promise(resolve => setTimeout(resolve, 200))
        }
        expect(listed).toBe(true)
      } finally {
        expect(await node.stop()).toBe(0)
      }
    } finally {
      await coordinator.stop()
    }
  })

  describe('with an Ollama server', () => {
    let engine: InferenceEngine
    let ollama: OllamaServer

    beforeAll(async () => {
      engine = await createLlamaCppEngine({ logger }, { modelsDir: models.dir, models: [MODEL, models.chat], threads: 1, slots: 2 })
      // It has MODEL; it could pull models.chat.
      ollama = await startOllamaServer({ engine }, { notPulled: [models.chat] })
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

    it('pulls a model Ollama lacks with --pull, logging progress, then serves it', async () => {
      const node = await startNodeProcess({
        dataDir: join(dir.path, 'pull'),
        bootstrap: bootstrap.getMultiaddrs().map(String),
        args: ['--engine', 'ollama', '--ollama-host', ollama.url, '--models', models.chat, '--pull']
      })
      try {
        const progress = node.lines.filter(l => l.msg === 'pulling model')
        expect(progress[0]).toMatchObject({ model: models.chat, status: 'pulling manifest' })
        expect(progress.some(l => typeof l.percent === 'number' && l.percent > 0 && l.percent < 100)).toBe(true)
        expect(progress.at(-1)).toMatchObject({ status: 'success' })
        expect(node.lines.some(l => l.msg === 'model pulled' && l.model === models.chat)).toBe(true)
        expect(node.lines.find(l => l.msg === 'node ready')?.models).toEqual([models.chat])
        expect((await chat(node.peerId, models.chat)).text).toBe((await engine.chat({ model: models.chat, messages: [{ role: 'user', content: 'Hello' }], maxTokens: 16, temperature: 0 })).text)
      } finally {
        await node.stop()
      }
    })

    it('setup finds Ollama and its models, measures them and writes a config that start --config reads', async () => {
      const dataDir = join(dir.path, 'setup')
      const bootstrapAddr = bootstrap.getMultiaddrs()[0].toString()
      const { stdout } = await run(process.execPath, [BINARIES.node, 'setup', '--data-dir', dataDir, '--ollama-host', ollama.url, '--bootstrap', bootstrapAddr, '--rounds', '1', '--json'])
      const report = JSON.parse(stdout) as { engine: string, hardware: { cores: number, memoryBytes: number, gpus: unknown[] }, models: Array<{ name: string, served: boolean, tokensPerSecond: number }>, configPath: string }
      expect(report.engine).toBe('ollama')
      expect(report.hardware.cores).toBeGreaterThan(0)
      expect(report.hardware.memoryBytes).toBeGreaterThan(0)
      expect(Array.isArray(report.hardware.gpus)).toBe(true)
      expect(report.models.map(m => [m.name, m.served])).toContainEqual([MODEL, true])
      expect(report.models.find(m => m.name === MODEL)?.tokensPerSecond).toBeGreaterThan(0)
      expect(report.configPath).toBe(join(dataDir, 'config.json'))
      const config = JSON.parse(await readFile(report.configPath, 'utf8')) as Record<string, unknown>
      expect(config).toMatchObject({ engine: 'ollama', ollamaHost: ollama.url, bootstrap: [bootstrapAddr] })

      // The text report names what it found and what to run next.
      const text = await run(process.execPath, [BINARIES.node, 'setup', '--data-dir', dataDir, '--ollama-host', ollama.url, '--bootstrap', bootstrapAddr, '--rounds', '1'])
      expect(text.stdout).toContain(`Ollama at ${ollama.url}`)
      expect(text.stdout).toContain(`next: dria-node start --config ${report.configPath}`)

      // Everything comes from the config: engine, Ollama host, models, bootstrap.
      const started = Date.now()
      const node = spawnDria('node', ['start', '--config', report.configPath, '--data-dir', dataDir, '--status-port', '0'])
      try {
        const ready = await node.waitFor('node ready')
        expect(Date.now() - started).toBeLessThan(30_000)
        expect(node.lines.some(l => l.msg === 'using ollama engine')).toBe(true)
        expect(ready.models).toEqual(config.models)
        await node.waitFor('connected to the network')
        expect(await chat(ready.peerId as string, MODEL)).toEqual({ text: (await engine.chat({ model: MODEL, messages: [{ role: 'user', content: 'Hello' }], maxTokens: 16, temperature: 0 })).text, finish_reason: expect.any(String), sampler: 'native' })
      } finally {
        expect(await node.stop()).toBe(0)
      }
    })
  })
})
