import { mkdir, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { derivedSeed } from '@dria/coordinator'
import { createLlamaCppEngine } from '@dria/engines'
import type { LlamaCppEngine } from '@dria/engines'
import { createLogger } from '@dria/protocol'
import { startTestNode } from '@dria/testkit'
import type { NodeProcess } from '@dria/testkit'
import { MODEL, MODELS_DIR, createBatch, models, openaiClient, readJsonl, requestLines, startNetwork, waitForBatch, waitForNodes } from './harness.js'
import type { TestNetwork } from './harness.js'

/**
 * Real honest `dria-node` processes on llama.cpp and real cheaters (node daemons around a real
 * llama.cpp engine that lies), default verification settings: every output line is what the
 * model produces for it (greedy, seeded and unseeded lines alike), every liar is quarantined,
 * and the impostor serving other weights under the name gets no work.
 */

const API_KEY = 'sk-verification'

interface OutputLine { custom_id: string, response: { body: { choices: Array<{ message: { content: string } }>, usage: { prompt_tokens: number, completion_tokens: number } } } }

describe('verification with real nodes and real cheaters', { timeout: 240_000 }, () => {
  let network: TestNetwork
  let engine: LlamaCppEngine
  const cheaters = new Map<string, NodeProcess>()

  beforeAll(async () => {
    engine = await createLlamaCppEngine({ logger: createLogger('test') }, { modelsDir: MODELS_DIR, models: [MODEL], threads: 1, slots: 1 })
    network = await startNetwork({ apiKeys: [API_KEY], nodes: 2, slots: 2 })
    const impostorModels = join(network.dir, 'impostor-models')
    await mkdir(impostorModels, { recursive: true })
    // Other weights under the advertised name: the node's own, true digest is not the model's.
    await symlink(join(MODELS_DIR, `${models.other}.gguf`), join(impostorModels, `${MODEL}.gguf`))
    const start = async (name: string, config: Partial<Parameters<typeof startTestNode>[0]>, modelsDir = MODELS_DIR, served = [MODEL]): Promise<void> => {
      cheaters.set(name, await startTestNode({
        dataDir: join(network.dir, name),
        bootstrap: network.coordinator.multiaddrs,
        slots: 2,
        engine: { type: 'llamacpp', modelsDir, models: served },
        ...config
      }))
    }
    await Promise.all([
      start('made-up', { cheat: { kind: 'made-up' } }),
      start('inflated', { cheat: { kind: 'inflate-usage', factor: 50 } }),
      start('forged', { cheat: { kind: 'forged-digest', model: MODEL, runs: models.other } }, MODELS_DIR, [MODEL, models.other]),
      start('impostor', {}, impostorModels)
    ])
  }, 180_000)

  afterAll(async () => {
    await Promise.all([...cheaters.values()].map(async c => await c.stop(2_000)))
    await network?.stop()
    await engine?.close()
  })

  it('delivers only honest lines with honest usage, quarantines every liar, gives the impostor nothing', async () => {
    const openai = openaiClient(network.coordinator.url, API_KEY)
    // Two honest nodes and three liars that claim the model's digest; the impostor's is not accepted.
    await waitForNodes(openai, 5)
    const count = 120
    const lines = requestLines(count, '/v1/chat/completions', i => ({
      messages: [{ role: 'user', content: `story ${i}: once upon a time` }], max_tokens: 16, ...[{ temperature: 0 }, { temperature: 0.8, seed: 70 + i }, {}][i % 3]
    }))
    const { id } = await createBatch(openai, lines)
    const batch = await waitForBatch(openai, id, { timeoutMs: 200_000 })
    expect(batch.request_counts).toEqual({ total: count, completed: count, failed: 0 })
    const results = await readJsonl<OutputLine>(openai, batch.output_file_id)
    let inputTokens = 0
    for (const result of results) {
      const i = Number(result.custom_id.split('-')[1])
      const sampling = [{ temperature: 0 }, { temperature: 0.8, seed: 70 + i }, { seed: derivedSeed(`${id}#${i}`) }][i % 3]
      const honest = await engine.chat({ model: MODEL, messages: [{ role: 'user', content: `story ${i}: once upon a time` }], maxTokens: 16, ...sampling })
      expect(result.response.body.choices[0].message.content, result.custom_id).toBe(honest.text)
      expect(result.response.body.usage).toEqual({ prompt_tokens: honest.usage.promptTokens, completion_tokens: honest.usage.completionTokens, total_tokens: honest.usage.promptTokens + honest.usage.completionTokens })
      inputTokens += honest.usage.promptTokens
    }
    expect(batch.usage?.input_tokens).toBe(inputTokens)

    const log = network.coordinator.lines
    for (const name of ['made-up', 'inflated', 'forged']) {
      expect(log.some(l => l.msg === 'node quarantined' && l.peer === cheaters.get(name)!.peerId), name).toBe(true)
    }
    expect(cheaters.get('impostor')!.lines.filter(l => l.msg === 'task finished' && l.work === 'generate')).toHaveLength(0)
    for (const node of network.nodes) {
      expect(log.some(l => (l.msg === 'node quarantined' || l.msg === 'node struck') && l.peer === node.peerId)).toBe(false)
    }
    // The network view shows why each liar is out.
    const nodes = await (await fetch(`${network.coordinator.url}/api/v0/network/nodes`)).json() as { data: Array<{ peer_id: string, trust: { level: string, reason: string | null } }> }
    const made = nodes.data.find(n => n.peer_id === cheaters.get('made-up')!.peerId)
    if (made !== undefined) expect(made.trust).toMatchObject({ level: 'quarantined', reason: expect.any(String) })
  })
})
