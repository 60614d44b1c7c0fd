import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it } from 'vitest'
import { signTaskResult, verifyTaskResult } from '@dria/protocol'
import type { TaskResult } from '@dria/protocol'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { verifyResult } from './verify-result.js'
import type { ResultExpectations } from './verify-result.js'

const DIGEST = 'sha256:270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d'
const encode = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value))

describe('verifyResult', () => {
  let key: PrivateKey
  let peerId: PeerId
  let otherKey: PrivateKey
  let expected: ResultExpectations

  beforeAll(async () => {
    key = await generateKeyPair('Ed25519')
    peerId = peerIdFromPrivateKey(key)
    otherKey = await generateKeyPair('Ed25519')
    expected = { peerId, taskId: 'batch_abc-3', attempt: 2, kind: 'chat', modelDigest: DIGEST, maxTokens: 16 }
  })

  async function signed (overrides: Partial<TaskResult> = {}, signer = key): Promise<TaskResult> {
    return await signTaskResult(signer, {
      taskId: 'batch_abc-3',
      attempt: 2,
      model: 'stories260K',
      modelDigest: DIGEST,
      output: encode({ text: 'Once upon a time, there was a cat.', finish_reason: 'length' }),
      usage: { promptTokens: 9, completionTokens: 16 },
      signature: new Uint8Array(),
      ...overrides
    })
  }

  it('accepts a well-formed result signed by the peer and keeps a verifiable receipt', async () => {
    // Non-canonical JSON (spacing, 1.50) must survive byte for byte: the receipt signs these bytes.
    const raw = '{ "text": "Once upon a time", "finish_reason": "stop", "score": 1.50 }'
    const result = await signed({ output: encode(raw), usage: { promptTokens: 9, completionTokens: 4 } })
    const before = Date.now()
    const outcome = await verifyResult(result, expected)
    expect(outcome).toEqual({
      output: raw,
      promptTokens: 9,
      completionTokens: 4,
      peer: peerId.toString(),
      modelDigest: DIGEST,
      signature: Buffer.from(result.signature).toString('base64'),
      finishedAt: expect.any(Number)
    })
    expect(outcome.finishedAt).toBeGreaterThanOrEqual(before)

    // The stored outcome alone is enough to check the receipt again later.
    await expect(verifyTaskResult(peerId, {
      taskId: expected.taskId,
      attempt: expected.attempt,
      model: 'stories260K',
      modelDigest: outcome.modelDigest,
      output: encode(outcome.output),
      signature: Buffer.from(outcome.signature, 'base64')
    })).resolves.toBeUndefined()
  })

  it('accepts embeddings and usage exactly at max_tokens, and any usage without max_tokens', async () => {
    const embedding = await signed({ output: encode({ embeddings: [[0.5, -1, 2e-8], [0, 0, 1]] }), usage: { promptTokens: 6, completionTokens: 0 } })
    expect(JSON.parse((await verifyResult(embedding, { ...expected, kind: 'embedding' })).output)).toEqual({ embeddings: [[0.5, -1, 2e-8], [0, 0, 1]] })

    expect((await verifyResult(await signed(), expected)).completionTokens).toBe(16)
    // Without max_tokens the engines' default bounds the answer.
    const { maxTokens: _maxTokens, ...unbounded } = expected
    expect((await verifyResult(await signed({ usage: { promptTokens: 9, completionTokens: 256 } }), unbounded)).completionTokens).toBe(256)
    await expect(verifyResult(await signed({ usage: { promptTokens: 9, completionTokens: 257 } }), unbounded)).rejects.toMatchObject({ code: 'RESULT_USAGE_EXCEEDED' })
    // A result without usage counts as zero tokens.
    expect(await verifyResult(await signed({ usage: undefined }), expected)).toMatchObject({ promptTokens: 0, completionTokens: 0 })
  })

  it('rejects a bad or foreign signature with RESULT_BAD_SIGNATURE', async () => {
    const result = await signed()
    const flipped = new Uint8Array(result.signature)
    flipped[0] ^= 1
    await expect(verifyResult({ ...result, signature: flipped }, expected)).rejects.toMatchObject({ code: 'RESULT_BAD_SIGNATURE' })
    await expect(verifyResult({ ...result, signature: new Uint8Array() }, expected)).rejects.toMatchObject({ code: 'RESULT_BAD_SIGNATURE' })
    // Output changed after signing.
    await expect(verifyResult({ ...result, output: encode({ text: 'Forged', finish_reason: 'stop' }) }, expected)).rejects.toMatchObject({ code: 'RESULT_BAD_SIGNATURE' })
    // Signed by a different peer than the one the task went to.
    await expect(verifyResult(await signed({}, otherKey), expected)).rejects.toMatchObject({ code: 'RESULT_BAD_SIGNATURE' })
    await expect(verifyResult(result, { ...expected, peerId: peerIdFromPrivateKey(otherKey) })).rejects.toMatchObject({ code: 'RESULT_BAD_SIGNATURE' })
  })

  it('rejects a correctly signed answer to another task or attempt with RESULT_WRONG_TASK', async () => {
    await expect(verifyResult(await signed({ taskId: 'batch_abc-4' }), expected)).rejects.toMatchObject({ code: 'RESULT_WRONG_TASK' })
    await expect(verifyResult(await signed({ attempt: 1 }), expected)).rejects.toMatchObject({ code: 'RESULT_WRONG_TASK' })
  })

  it('rejects a digest other than the advertised one with RESULT_WRONG_MODEL', async () => {
    await expect(verifyResult(await signed({ modelDigest: 'sha256:0000' }), expected)).rejects.toMatchObject({ code: 'RESULT_WRONG_MODEL' })
    await expect(verifyResult(await signed({ modelDigest: '' }), expected)).rejects.toMatchObject({ code: 'RESULT_WRONG_MODEL' })
  })

  it('rejects malformed output with RESULT_MALFORMED', async () => {
    const cases: Array<[ResultExpectations['kind'], Uint8Array]> = [
      ['chat', encode('not json')],
      ['chat', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])],
      // A BOM would be dropped by decoding, so the stored text would no longer match the signature.
      ['chat', new Uint8Array([0xef, 0xbb, 0xbf, ...encode({ text: 'hi', finish_reason: 'stop' })])],
      ['chat', encode('"just a string"')],
      ['chat', encode('null')],
      ['chat', encode({ finish_reason: 'stop' })],
      ['chat', encode({ text: 42, finish_reason: 'stop' })],
      ['chat', encode({ text: 'hi' })],
      ['completion', encode({ text: 'hi', finish_reason: 'exploded' })],
      ['embedding', encode({ text: 'hi', finish_reason: 'stop' })],
      ['embedding', encode({ embeddings: [0.1, 0.2] })],
      ['embedding', encode({ embeddings: [[0.1, '0.2']] })],
      ['embedding', encode({ embeddings: [[0.1, null]] })]
    ]
    for (const [kind, output] of cases) {
      await expect(verifyResult(await signed({ output }), { ...expected, kind }), new TextDecoder().decode(output)).rejects.toMatchObject({ code: 'RESULT_MALFORMED' })
    }
  })

  it('rejects usage above max_tokens with RESULT_USAGE_EXCEEDED', async () => {
    await expect(verifyResult(await signed({ usage: { promptTokens: 9, completionTokens: 17 } }), expected)).rejects.toMatchObject({ code: 'RESULT_USAGE_EXCEEDED' })
  })

  it('rejects prompt usage no request of that size could have (inflated usage)', async () => {
    await expect(verifyResult(await signed({ usage: { promptTokens: 290, completionTokens: 16 } }), { ...expected, requestBytes: 40 })).resolves.toBeDefined()
    await expect(verifyResult(await signed({ usage: { promptTokens: 50_000, completionTokens: 16 } }), { ...expected, requestBytes: 40 })).rejects.toMatchObject({ code: 'RESULT_USAGE_EXCEEDED' })
    // A tiny image is a few hundred bytes and may still be hundreds of prompt tokens.
    await expect(verifyResult(await signed({ usage: { promptTokens: 600, completionTokens: 16 } }), { ...expected, requestBytes: 200, mediaParts: 1 })).resolves.toBeDefined()
    await expect(verifyResult(await signed({ usage: { promptTokens: 50_000, completionTokens: 16 } }), { ...expected, requestBytes: 200, mediaParts: 1 })).rejects.toMatchObject({ code: 'RESULT_USAGE_EXCEEDED' })
  })

  it('rejects completion usage that disagrees with the tokens returned, and completion tokens for embeddings', async () => {
    const output = encode({ text: 'Once', finish_reason: 'stop', tokens: [1, 2, 3], sampler: 'dria-1' })
    expect(await verifyResult(await signed({ output, usage: { promptTokens: 9, completionTokens: 3 } }), expected)).toMatchObject({ sampler: 'dria-1' })
    await expect(verifyResult(await signed({ output, usage: { promptTokens: 9, completionTokens: 12 } }), expected)).rejects.toMatchObject({ code: 'RESULT_USAGE_MISMATCH' })
    await expect(verifyResult(await signed({ output: encode({ text: 'x', finish_reason: 'stop', tokens: [1.5] }) }), expected)).rejects.toMatchObject({ code: 'RESULT_MALFORMED' })
    const embedding = encode({ embeddings: [[1, 2]] })
    await expect(verifyResult(await signed({ output: embedding, usage: { promptTokens: 3, completionTokens: 7 } }), { ...expected, kind: 'embedding' })).rejects.toMatchObject({ code: 'RESULT_USAGE_MISMATCH' })
  })

  describe('structured output', () => {
    const schema = { type: 'object', required: ['name', 'age'], properties: { name: { type: 'string' }, age: { type: 'integer' } }, additionalProperties: false }
    const jsonSchema = { type: 'json_schema' as const, schema }
    const answer = async (text: string, finishReason = 'stop'): Promise<TaskResult> =>
      await signed({ output: encode({ text, finish_reason: finishReason }), usage: { promptTokens: 9, completionTokens: 8 } })

    it('accepts output that matches the requested schema', async () => {
      await expect(verifyResult(await answer('{"name":"Lily","age":3}'), { ...expected, responseFormat: jsonSchema })).resolves.toMatchObject({ completionTokens: 8 })
      await expect(verifyResult(await answer('{"anything":[1,2]}'), { ...expected, responseFormat: { type: 'json_object' } })).resolves.toBeDefined()
    })

    it.each([
      ['not JSON', 'Lily is 3', jsonSchema],
      ['a missing property', '{"name":"Lily"}', jsonSchema],
      ['a wrong type', '{"name":"Lily","age":"three"}', jsonSchema],
      ['an extra property', '{"name":"Lily","age":3,"cat":true}', jsonSchema],
      ['an array for json_object', '[1,2]', { type: 'json_object' as const }]
    ])('rejects %s with RESULT_SCHEMA_MISMATCH', async (_what, text, responseFormat) => {
      await expect(verifyResult(await answer(text), { ...expected, responseFormat })).rejects.toMatchObject({ code: 'RESULT_SCHEMA_MISMATCH' })
    })

    it('accepts answers that break only what no grammar enforces (ranges, patterns, formats): no proof of a lie', async () => {
      const ranged = { type: 'json_schema' as const, schema: { type: 'object', required: ['age', 'code'], properties: { age: { type: 'integer', minimum: 0, maximum: 120 }, code: { type: 'string', pattern: '^[A-Z]+$', format: 'email' } }, additionalProperties: false } }
      await expect(verifyResult(await answer('{"age":500,"code":"lily"}'), { ...expected, responseFormat: ranged })).resolves.toBeDefined()
      // What the grammar does enforce still counts, whatever the properties are called.
      const named = { type: 'json_schema' as const, schema: { type: 'object', required: ['minimum'], properties: { minimum: { type: 'integer', maximum: 3 } } } }
      await expect(verifyResult(await answer('{"minimum":9}'), { ...expected, responseFormat: named })).resolves.toBeDefined()
      await expect(verifyResult(await answer('{"minimum":"nine"}'), { ...expected, responseFormat: named })).rejects.toMatchObject({ code: 'RESULT_SCHEMA_MISMATCH' })
      await expect(verifyResult(await answer('{"age":-5e-20,"code":"A"}'), { ...expected, responseFormat: ranged })).rejects.toMatchObject({ code: 'RESULT_SCHEMA_MISMATCH' })
    })

    it('does not check an answer cut at max_tokens', async () => {
      await expect(verifyResult(await answer('{"name":"Li', 'length'), { ...expected, responseFormat: jsonSchema })).resolves.toBeDefined()
    })
  })
})
