import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GENERATED_MODEL_NAME, createLlamaCppEngine } from '@dria/engines'
import type { InferenceEngine } from '@dria/engines'
import { createDriaHost } from '@dria/p2p'
import { createLogger } from '@dria/protocol'
import { BINARIES, freePort, spawnDria, startOllamaServer, tempDir, testModels } from '@dria/testkit'
import type { DriaProcess, LogLine, OllamaServer } from '@dria/testkit'

const models = await testModels()
const logger = createLogger('test')
const run = promisify(execFile)

/** Every failure to start is one fatal line with a code and the reason (no stack), then exit code 1. */
async function failure (proc: DriaProcess): Promise<LogLine> {
  const fatal = await proc.waitFor('node failed to start')
  expect(await proc.stop()).toBe(1)
  expect(proc.lines.filter(l => l.level >= 50)).toEqual([fatal])
  expect(fatal).not.toHaveProperty('err')
  expect(typeof fatal.reason).toBe('string')
  expect(fatal.reason).not.toContain('\n')
  return fatal
}

describe('dria-node start: what is wrong, in one line', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let engine: InferenceEngine
  let empty: OllamaServer
  let dead: string
  let n = 0
  const dataDir = (): string => join(dir.path, `node-${n++}`)
  const start = (args: string[]): DriaProcess => spawnDria('node', ['start', '--data-dir', dataDir(), '--status-port', '0', ...args])

  beforeAll(async () => {
    dir = await tempDir('dria-node-errors-')
    engine = await createLlamaCppEngine({ logger }, { modelsDir: models.dir, models: [models.main], threads: 1, slots: 1 })
    // An Ollama that has pulled nothing yet.
    empty = await startOllamaServer({ engine }, { notPulled: [models.main] })
    const gone = await startOllamaServer({ engine })
    dead = gone.url
    await gone.close()
  })

  afterAll(async () => {
    await empty?.close()
    await engine?.close()
    await dir?.remove()
  })

  it('no model anywhere: NO_MODELS_FOUND naming what was tried; nothing generated without --demo-model', async () => {
    const data = dataDir()
    const fatal = await failure(spawnDria('node', ['start', '--data-dir', data, '--status-port', '0', '--ollama-host', dead]))
    expect(fatal.code).toBe('NO_MODELS_FOUND')
    expect(fatal.reason).toContain(`Ollama at ${dead}: unreachable`)
    expect(fatal.reason).toContain(`models dir ${join(data, 'models')}`)
    expect(fatal.reason).toContain('--demo-model')
    expect(existsSync(join(data, 'models', `${GENERATED_MODEL_NAME}.gguf`))).toBe(false)
  })

  it('Ollama unreachable with --engine ollama: OLLAMA_UNREACHABLE with the host and the fixes', async () => {
    const fatal = await failure(start(['--engine', 'ollama', '--ollama-host', dead]))
    expect(fatal.code).toBe('OLLAMA_UNREACHABLE')
    for (const part of [dead, 'ollama serve', '--ollama-host', '--engine llamacpp']) expect(fatal.reason).toContain(part)
  })

  it('prints a readable line, not JSON, with --log-format pretty', async () => {
    const result = await run(process.execPath, [BINARIES.node, 'start', '--data-dir', dataDir(), '--status-port', '0', '--engine', 'ollama', '--ollama-host', dead, '--log-format', 'pretty'], { env: { ...process.env, DRIA_LOG_LEVEL: 'info' } }).catch((err: { code: number, stdout: string }) => err)
    expect((result as { code: number }).code).toBe(1)
    const lines = result.stdout.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/FATAL.*node failed to start: Ollama at .* \[OLLAMA_UNREACHABLE\]$/)
    expect(() => JSON.parse(lines[0]) as unknown).toThrow()
  })

  it('an empty Ollama: OLLAMA_NO_MODELS with --engine ollama, NO_MODELS_FOUND with auto (not --min-tps)', async () => {
    const explicit = await failure(start(['--engine', 'ollama', '--ollama-host', empty.url]))
    expect(explicit.code).toBe('OLLAMA_NO_MODELS')
    expect(explicit.reason).toContain('ollama pull')
    const auto = await failure(start(['--ollama-host', empty.url]))
    expect(auto.code).toBe('NO_MODELS_FOUND')
    expect(auto.reason).toContain(`Ollama at ${empty.url}: no models`)
    expect(auto.reason).not.toContain('min-tps')
  })

  it('a model Ollama has not pulled: MODEL_NOT_PULLED naming `ollama pull` and --pull; an unknown one with --pull: PULL_FAILED', async () => {
    const fatal = await failure(start(['--ollama-host', empty.url, '--models', models.main]))
    expect(fatal.code).toBe('MODEL_NOT_PULLED')
    expect(fatal.reason).toContain(`ollama pull ${models.main}`)
    expect(fatal.reason).toContain('--pull')
    const unknown = await failure(start(['--engine', 'ollama', '--ollama-host', empty.url, '--models', 'no-such-model', '--pull']))
    expect(unknown.code).toBe('PULL_FAILED')
  })

  it('a --models name missing from the models dir: MODEL_NOT_FOUND', async () => {
    const fatal = await failure(start(['--engine', 'llamacpp', '--models-dir', models.dir, '--models', 'no-such-model']))
    expect(fatal.code).toBe('MODEL_NOT_FOUND')
  })

  it('a P2P port in use: P2P_PORT_IN_USE naming --p2p-port', async () => {
    const taken = createServer()
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
    const { port } = taken.address() as { port: number }
    try {
      const fatal = await failure(start(['--engine', 'llamacpp', '--demo-model', '--p2p-port', String(port)]))
      expect(fatal.code).toBe('P2P_PORT_IN_USE')
      expect(fatal.reason).toContain(String(port))
      expect(fatal.reason).toContain('--p2p-port')
    } finally {
      await new Promise(resolve => taken.close(resolve))
    }
  })

  it('a status port in use: STATUS_PORT_IN_USE naming --status-port', async () => {
    const taken = createServer()
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
    const { port } = taken.address() as { port: number }
    try {
      const fatal = await failure(spawnDria('node', ['start', '--data-dir', dataDir(), '--engine', 'llamacpp', '--demo-model', '--status-port', String(port)]))
      expect(fatal.code).toBe('STATUS_PORT_IN_USE')
      expect(fatal.reason).toContain('--status-port')
    } finally {
      await new Promise(resolve => taken.close(resolve))
    }
  })

  it('a malformed --bootstrap or --announce is refused before anything starts', async () => {
    const peer = (await createDriaHost({ listenPort: 0 }))
    const id = peer.peerId.toString()
    await peer.stop()
    for (const address of ['/ip4/127.0.0.1/tcp/4001', 'not-a-multiaddr', '/ip4/127.0.0.1/tcp/4001/p2p/not-a-peer-id', `/ip4/127.0.0.1/udp/4001/p2p/${id}`]) {
      const proc = start(['--engine', 'llamacpp', '--demo-model', '--bootstrap', address])
      const fatal = await failure(proc)
      expect(fatal.code).toBe('BOOTSTRAP_INVALID')
      expect(fatal.reason).toContain(address)
      expect(proc.lines.some(l => l.msg === 'model loaded')).toBe(false)
    }
    const announce = await failure(start(['--engine', 'llamacpp', '--demo-model', '--announce', '/ip4/203.0.113.7']))
    expect(announce.code).toBe('ANNOUNCE_INVALID')
  })

  it('--gpu cuda without the CUDA build of llama.cpp: GPU_UNAVAILABLE naming how to install it', async () => {
    const fatal = await failure(start(['--engine', 'llamacpp', '--demo-model', '--gpu', 'cuda']))
    expect(fatal.code).toBe('GPU_UNAVAILABLE')
    expect(fatal.reason).toContain('install-gpu')
  })

  it('a broken config file: CONFIG_INVALID on stderr, exit code 1', async () => {
    const path = join(dir.path, 'bad-config.json')
    await writeFile(path, JSON.stringify({ slots: 'many' }))
    const result = await run(process.execPath, [BINARIES.node, 'start', '--config', path, '--data-dir', dataDir()]).catch((err: { code: number, stderr: string }) => err)
    expect((result as { code: number }).code).toBe(1)
    expect(result.stderr.trim()).toMatch(/"slots" must be .* \[CONFIG_INVALID\]$/)
  })

  it('warns NOT_CONNECTED again and again while the bootstrap peer is down, and says when it connects', async () => {
    const privateKey = await generateKeyPair('Ed25519')
    const port = await freePort()
    const address = `/ip4/127.0.0.1/tcp/${port}/p2p/${(await createDriaHost({ privateKey, listenPort: 0 }).then(async h => { await h.stop(); return h.peerId })).toString()}`
    const node = start(['--engine', 'llamacpp', '--demo-model', '--bootstrap', address, '--connect-warn-ms', '300'])
    try {
      await node.waitFor('node ready')
      const second = await node.waitFor('not connected to any peer', { where: () => node.lines.filter(l => l.msg === 'not connected to any peer').length >= 2 })
      expect(second).toMatchObject({ code: 'NOT_CONNECTED', bootstrap: [address] })
      expect(second.aloneForMs).toBeGreaterThanOrEqual(300)
      const peer = await createDriaHost({ privateKey, listenPort: port })
      try {
        await node.waitFor('connected to the network', { timeoutMs: 30_000 })
        const warned = node.lines.filter(l => l.msg === 'not connected to any peer').length
        await new Promise(resolve => setTimeout(resolve, 900))
        expect(node.lines.filter(l => l.msg === 'not connected to any peer').length).toBe(warned)
      } finally {
        await peer.stop()
      }
    } finally {
      expect(await node.stop()).toBe(0)
    }
  })
})
