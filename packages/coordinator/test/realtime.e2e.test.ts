import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import { MODEL, openaiClient, startNetwork, waitForNodes } from './harness.js'
import type { TestNetwork } from './harness.js'

const API_KEY = 'sk-e2e-realtime'
const story = { model: MODEL, messages: [{ role: 'user' as const, content: 'Once upon a time, there was a cat' }], max_tokens: 24, temperature: 0 }

describe('real-time OpenAI endpoints', () => {
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

  it('answers chat.completions.create from a node, with its receipt', async () => {
    const { data: completion, response } = await openai.chat.completions.create(story).withResponse()
    expect(completion.object).toBe('chat.completion')
    expect(completion.id).toMatch(/^chatcmpl-/)
    expect(completion.model).toBe(MODEL)
    expect(completion.choices[0].message.role).toBe('assistant')
    expect(completion.choices[0].message.content!.length).toBeGreaterThan(0)
    expect(['stop', 'length']).toContain(completion.choices[0].finish_reason)
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0)
    expect(completion.usage!.completion_tokens).toBeLessThanOrEqual(24)
    expect(completion.system_fingerprint).toMatch(/^fp_[0-9a-f]{12}$/)
    expect(response.headers.get('x-dria-node')).toBe(network!.nodes[0].peerId)
    expect(response.headers.get('x-dria-signature')?.length).toBeGreaterThan(40)
  })

  it('streams the same verified text through the SDK', async () => {
    const plain = await openai.chat.completions.create(story)
    const stream = await openai.chat.completions.create({ ...story, stream: true, stream_options: { include_usage: true } })
    let text = ''
    let finish: string | null = null
    let usage: OpenAI.CompletionUsage | null | undefined
    let chunks = 0
    for await (const chunk of stream) {
      chunks++
      expect(chunk.object).toBe('chat.completion.chunk')
      if (chunk.choices.length > 0) {
        text += chunk.choices[0].delta.content ?? ''
        finish = chunk.choices[0].finish_reason ?? finish
      }
      if (chunk.usage != null) usage = chunk.usage
    }
    expect(chunks).toBeGreaterThan(3)
    expect(text).toBe(plain.choices[0].message.content)
    expect(finish).toBe(plain.choices[0].finish_reason)
    expect(usage).toEqual(plain.usage)
    // The SDK's stream helper assembles the same message.
    const final = await openai.chat.completions.stream(story).finalChatCompletion()
    expect(final.choices[0].message.content).toBe(plain.choices[0].message.content)
  })

  it('answers completions (plain and streamed) and embeddings', async () => {
    const prompt = { model: MODEL, prompt: 'Once upon a time', max_tokens: 16, temperature: 0 }
    const completion = await openai.completions.create(prompt)
    expect(completion.object).toBe('text_completion')
    expect(completion.choices[0].text.length).toBeGreaterThan(0)
    let streamed = ''
    for await (const chunk of await openai.completions.create({ ...prompt, stream: true })) streamed += chunk.choices[0]?.text ?? ''
    expect(streamed).toBe(completion.choices[0].text)

    const embeddings = await openai.embeddings.create({ model: MODEL, input: ['a cat', 'a dog'] })
    expect(embeddings.data.map(e => e.index)).toEqual([0, 1])
    expect(embeddings.data[0].embedding.length).toBeGreaterThan(0)
    expect(embeddings.data[0].embedding).not.toEqual(embeddings.data[1].embedding)
    expect(embeddings.usage.prompt_tokens).toBeGreaterThan(0)
  })

  it('runs requests in parallel', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, async (_, i) => await openai.chat.completions.create({ ...story, messages: [{ role: 'user', content: `Story ${i}:` }], max_tokens: 8 })))
    expect(answers.every(a => a.choices[0].message.content!.length > 0)).toBe(true)
  })

  it('answers 503 no_capacity with retry-after for a model nobody serves', async () => {
    const err = await openai.chat.completions.create({ ...story, model: 'nobody-serves-this' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.APIError)
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(503)
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('no_capacity')
    expect((err as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toMatch(/^\d+$/)
  })

  it('never sends an image to a model that does not read images', async () => {
    const image = { type: 'image_url' as const, image_url: { url: `data:image/png;base64,${Buffer.from('png?').toString('base64')}` } }
    const err = await openai.chat.completions.create({ ...story, messages: [{ role: 'user', content: [{ type: 'text', text: 'what is it?' }, image] }] }).catch((e: unknown) => e)
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(400)
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('vision_unsupported')
    const models = await openai.models.list()
    expect(models.data.find(m => m.id === MODEL)).toMatchObject({ nodes: 1, capabilities: expect.arrayContaining(['completion']) })
  })
})
