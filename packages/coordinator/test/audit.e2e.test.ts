import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLlamaCppEngine } from '@dria/engines'
import { createLogger } from '@dria/protocol'
import { startDishonestNode } from '@dria/testkit'
import type { DishonestNode } from '@dria/testkit'
import { MODEL, MODELS_DIR, createBatch, openaiClient, readJsonl, requestLines, startNetwork, waitForBatch, waitForNodes } from './harness.js'
import type { TestNetwork } from './harness.js'

const API_KEY = 'sk-audit'
const LIE = 'The moon is made of cheese and so is everything else.'
const PROMPTS = ['Once upon a time', 'The little dog', 'A girl named Lily']
const LINES = 90

describe('a dishonest node among honest ones', () => {
  let network: TestNetwork
  let liar: DishonestNode
  const expected = new Map<string, string>()
  let digest: string

  beforeAll(async () => {
    // What an honest node answers: the same engine, greedy.
    const engine = await createLlamaCppEngine({ logger: createLogger('test') }, { modelsDir: MODELS_DIR, models: [MODEL], threads: 1, slots: 1 })
    for (const prompt of PROMPTS) {
      expected.set(prompt, (await engine.chat({ model: MODEL, messages: [{ role: 'user', content: prompt }], maxTokens: 24, temperature: 0 })).text)
    }
    // The liar claims the real model's digest, so only re-execution can catch it.
    digest = (await engine.listModels())[0].digest
    await engine.close()
    network = await startNetwork({ apiKeys: [API_KEY], nodes: 2, slots: 2, coordinatorArgs: ['--audit-rate', '0.5', '--quarantine-strikes', '2'] })
    liar = await startDishonestNode({ bootstrap: network.coordinator.multiaddrs, model: MODEL, digest, slots: 4, answer: LIE })
  }, 120_000)

  afterAll(async () => {
    await liar?.stop()
    await network?.stop()
  })

  it('catches it by re-execution, quarantines it and redoes its work: every answer is an honest one', async () => {
    const openai = openaiClient(network.coordinator.url, API_KEY)
    await waitForNodes(openai, 3)
    const lines = requestLines(LINES, '/v1/chat/completions', i => ({
      messages: [{ role: 'user', content: PROMPTS[i % PROMPTS.length] }], max_tokens: 24, temperature: 0
    }))
    const { id } = await createBatch(openai, lines)
    const batch = await waitForBatch(openai, id)
    expect(batch.status).toBe('completed')
    expect(batch.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 })

    const results = await readJsonl<{ custom_id: string, response: { body: { choices: Array<{ message: { content: string } }> } } }>(openai, batch.output_file_id)
    expect(results).toHaveLength(LINES)
    expect(liar.answered).toBeGreaterThan(0)
    for (const result of results) {
      const i = Number(result.custom_id.split('-')[1])
      expect(result.response.body.choices[0].message.content).toBe(expected.get(PROMPTS[i % PROMPTS.length]))
    }

    const log = network.coordinator.lines
    expect(log.some(l => l.msg === 'node quarantined' && l.peer === liar.peerId)).toBe(true)
    expect(log.some(l => l.msg === 'node quarantined' && l.peer !== liar.peerId)).toBe(false)
    const metrics = await (await fetch(`${network.coordinator.url}/metrics`)).text()
    expect(Number(/^dria_verification_audits_total\{result="caught"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2)
  })
})
