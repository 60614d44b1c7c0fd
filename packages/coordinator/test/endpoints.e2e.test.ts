import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type OpenAI from 'openai'
import { MODEL, createBatch, openaiClient, readJsonl, requestLines, startNetwork, waitForBatch, waitForNodes } from './harness.js'
import type { TestNetwork } from './harness.js'

const API_KEY = 'sk-e2e-endpoints'
const LINES = 8

describe('batches on /v1/completions and /v1/embeddings', () => {
  let network: TestNetwork | undefined
  let openai: OpenAI

  beforeAll(async () => {
    network = await startNetwork({ apiKeys: [API_KEY], slots: 2 })
    openai = openaiClient(network.coordinator.url, API_KEY)
    await waitForNodes(openai, 1)
  }, 120_000)

  afterAll(async () => {
    await network?.stop()
  })

  it('answers /v1/completions lines with text_completion bodies', async () => {
    const lines = requestLines(LINES, '/v1/completions', i => ({ prompt: `Once upon a time, there was a girl named ${['Lily', 'Sue'][i % 2]}`, max_tokens: 16, temperature: 0 }))
    const created = await createBatch(openai, lines, { endpoint: '/v1/completions' })
    expect(created.endpoint).toBe('/v1/completions')
    const batch = await waitForBatch(openai, created.id)
    expect(batch.status).toBe('completed')
    expect(batch.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 })

    const output = await readJsonl(openai, batch.output_file_id)
    expect(output.map(line => line.custom_id).sort()).toEqual(lines.map(line => (line as { custom_id: string }).custom_id).sort())
    for (const line of output) {
      const body = line.response.body
      expect(body.object).toBe('text_completion')
      expect(body.id).toMatch(/^cmpl-/)
      expect(body.model).toBe(MODEL)
      expect(body.choices).toHaveLength(1)
      expect(body.choices[0].text.length).toBeGreaterThan(0)
      expect(['stop', 'length']).toContain(body.choices[0].finish_reason)
      expect(body.usage.completion_tokens).toBeGreaterThan(0)
      expect(body.usage.completion_tokens).toBeLessThanOrEqual(16)
    }
    // Greedy decoding: the same prompt gives the same text.
    const texts = output.filter(line => line.custom_id === 'req-0' || line.custom_id === 'req-2').map(line => line.response.body.choices[0].text)
    expect(texts[0]).toBe(texts[1])
  })

  it('answers /v1/embeddings lines with lists of embedding objects', async () => {
    const lines = [
      ...requestLines(LINES, '/v1/embeddings', i => ({ input: `The cat number ${i} sat on the mat.` })),
      { custom_id: 'pair', method: 'POST', url: '/v1/embeddings', body: { model: MODEL, input: ['A dog ran.', 'The sun was warm.'] } }
    ]
    const created = await createBatch(openai, lines, { endpoint: '/v1/embeddings' })
    const batch = await waitForBatch(openai, created.id)
    expect(batch.errors).toBeNull()
    expect(batch.status).toBe('completed')
    expect(batch.request_counts).toEqual({ total: LINES + 1, completed: LINES + 1, failed: 0 })

    const output = await readJsonl(openai, batch.output_file_id)
    expect(output).toHaveLength(LINES + 1)
    for (const line of output) {
      const body = line.response.body
      expect(body.object).toBe('list')
      expect(body.model).toBe(MODEL)
      expect(body.data.length).toBe(line.custom_id === 'pair' ? 2 : 1)
      for (const [index, item] of body.data.entries()) {
        expect(item).toMatchObject({ object: 'embedding', index })
        expect(item.embedding.length).toBeGreaterThan(0)
        expect(item.embedding.every((x: unknown) => typeof x === 'number' && Number.isFinite(x))).toBe(true)
      }
      expect(body.usage.prompt_tokens).toBeGreaterThan(0)
      expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens)
    }
    const vectors = output.filter(line => line.custom_id !== 'pair').map(line => line.response.body.data[0].embedding)
    expect(new Set(vectors.map(v => v.length)).size).toBe(1)
    expect(vectors[0]).not.toEqual(vectors[1])
    expect(batch.usage!.input_tokens).toBe(output.reduce((sum, line) => sum + line.response.body.usage.prompt_tokens as number, 0))
  })
})
