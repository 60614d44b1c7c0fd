import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { CapacityRecord, ModelKind, SignedRecord } from '../generated/dria.js'
import {
  capacityRecordKey, capacityRecordSelector, capacityRecordValidator, modelCid, openCapacityRecord,
  signCapacityRecord, signTaskResult, verifyTaskResult
} from './index.js'
import type { TaskResult } from '../generated/dria.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

async function identity (): Promise<{ key: PrivateKey, peerId: PeerId }> {
  const key = await generateKeyPair('Ed25519')
  return { key, peerId: peerIdFromPrivateKey(key) }
}

function capacity (peerId: PeerId, seq: number): CapacityRecord {
  return {
    peerId: peerId.toMultihash().bytes,
    seq,
    issuedAtMs: 1_700_000_000_000 + seq,
    version: '0.1.0',
    engine: 'llama.cpp',
    models: [{ name: 'stories260K', digest: 'sha256:ab', kind: ModelKind.MODEL_KIND_CHAT, tokensPerSecond: 1400, contextLength: 512, capabilities: ['completion'] }],
    slotsTotal: 4,
    slotsFree: 3,
    multiaddrs: ['/ip4/127.0.0.1/tcp/4001']
  }
}

async function expectCode (promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toMatchObject({ name: 'DriaError', code })
}

describe('modelCid', () => {
  it('is a stable CID v1 (raw) per model name', () => {
    const cid = modelCid('stories260K')
    expect(cid.version).toBe(1)
    expect(cid.code).toBe(0x55)
    expect(cid.equals(modelCid('stories260K'))).toBe(true)
    expect(cid.equals(modelCid('stories260K-chat'))).toBe(false)
  })
})

describe('capacity records', () => {
  it('round-trips a signed record', async () => {
    const { key, peerId } = await identity()
    const record = capacity(peerId, 7)
    const value = await signCapacityRecord(key, record)
    const dhtKey = capacityRecordKey(peerId)
    expect(new TextDecoder().decode(dhtKey)).toBe(`/dria/${peerId.toString()}`)
    expect(await openCapacityRecord(dhtKey, value)).toEqual(record)
    await expect(capacityRecordValidator(dhtKey, value)).resolves.toBeUndefined()
  })

  it('rejects a record stamped in the future (it would never go stale and always win)', async () => {
    const { key, peerId } = await identity()
    const tenYears = 10 * 365 * 24 * 3600_000
    const future = { ...capacity(peerId, 1), issuedAtMs: Date.now() + tenYears }
    await expectCode(openCapacityRecord(capacityRecordKey(peerId), await signCapacityRecord(key, future)), 'RECORD_FROM_FUTURE')
    const futureSeq = { ...capacity(peerId, Date.now() + tenYears), issuedAtMs: Date.now() }
    await expectCode(capacityRecordValidator(capacityRecordKey(peerId), await signCapacityRecord(key, futureSeq)), 'RECORD_FROM_FUTURE')
    // A little skew between honest clocks is fine.
    const skewed = { ...capacity(peerId, 1), issuedAtMs: Date.now() + 5_000 }
    await expect(openCapacityRecord(capacityRecordKey(peerId), await signCapacityRecord(key, skewed))).resolves.toEqual(skewed)
  })

  it('rejects a forged signature', async () => {
    const { key, peerId } = await identity()
    const signed = SignedRecord.decode(await signCapacityRecord(key, capacity(peerId, 1)))
    signed.signature[0] ^= 0xff
    await expectCode(openCapacityRecord(capacityRecordKey(peerId), SignedRecord.encode(signed)), 'RECORD_BAD_SIGNATURE')
  })

  it('rejects a record claiming a peer but signed with another key', async () => {
    const victim = await identity()
    const attacker = await identity()
    const value = await signCapacityRecord(attacker.key, capacity(victim.peerId, 1))
    await expectCode(openCapacityRecord(capacityRecordKey(victim.peerId), value), 'RECORD_BAD_SIGNATURE')
    await expectCode(capacityRecordValidator(capacityRecordKey(victim.peerId), value), 'RECORD_BAD_SIGNATURE')
  })

  it('rejects a valid record of one peer stored under another peer\'s key', async () => {
    const a = await identity()
    const b = await identity()
    const value = await signCapacityRecord(a.key, capacity(a.peerId, 1))
    await expectCode(openCapacityRecord(capacityRecordKey(b.peerId), value), 'RECORD_KEY_MISMATCH')
  })

  it('rejects tampered fields', async () => {
    const { key, peerId } = await identity()
    const signed = SignedRecord.decode(await signCapacityRecord(key, capacity(peerId, 1)))
    const tampered = { ...CapacityRecord.decode(signed.payload), seq: 2 }
    const value = SignedRecord.encode({ payload: CapacityRecord.encode(tampered), signature: signed.signature })
    await expectCode(openCapacityRecord(capacityRecordKey(peerId), value), 'RECORD_BAD_SIGNATURE')
  })

  it('rejects garbage values and keys', async () => {
    const { key, peerId } = await identity()
    const dhtKey = capacityRecordKey(peerId)
    await expectCode(openCapacityRecord(dhtKey, Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f])), 'RECORD_MALFORMED')
    const notARecord = SignedRecord.encode({ payload: Uint8Array.from([0x0f, 0x01]), signature: new Uint8Array(64) })
    await expectCode(openCapacityRecord(dhtKey, notARecord), 'RECORD_MALFORMED')
    const value = await signCapacityRecord(key, capacity(peerId, 1))
    await expectCode(openCapacityRecord(new TextEncoder().encode('/dria/not-a-peer-id'), value), 'RECORD_KEY_MISMATCH')
    await expectCode(openCapacityRecord(new TextEncoder().encode(`/pk/${peerId.toString()}`), value), 'RECORD_KEY_MISMATCH')
  })

  it('selector picks the valid record with the highest seq', async () => {
    const { key, peerId } = await identity()
    const attacker = await identity()
    const dhtKey = capacityRecordKey(peerId)
    const records = [
      await signCapacityRecord(key, capacity(peerId, 3)),
      await signCapacityRecord(key, capacity(peerId, 9)),
      await signCapacityRecord(attacker.key, capacity(peerId, 100)),
      await signCapacityRecord(key, capacity(peerId, 5))
    ]
    expect(await capacityRecordSelector(dhtKey, records)).toBe(1)
    expect(await capacityRecordSelector(dhtKey, records.slice(2))).toBe(1)
  })
})

describe('task result signatures', () => {
  function result (): TaskResult {
    return {
      taskId: 'task-1',
      attempt: 2,
      model: 'stories260K',
      modelDigest: 'sha256:ab',
      output: new TextEncoder().encode('{"text":"Once upon a time","finish_reason":"length"}'),
      usage: { promptTokens: 3, completionTokens: 5 },
      signature: new Uint8Array()
    }
  }

  it('round-trips', async () => {
    const { key, peerId } = await identity()
    const signed = await signTaskResult(key, result())
    expect(signed.signature.byteLength).toBe(64)
    await expect(verifyTaskResult(peerId, signed)).resolves.toBeUndefined()
  })

  it('rejects a result checked against the wrong peer', async () => {
    const { key } = await identity()
    const other = await identity()
    await expectCode(verifyTaskResult(other.peerId, await signTaskResult(key, result())), 'RESULT_BAD_SIGNATURE')
  })

  it('rejects tampered output, attempt, digest and error code', async () => {
    const { key, peerId } = await identity()
    const signed = await signTaskResult(key, result())
    const tampered: TaskResult[] = [
      { ...signed, output: new TextEncoder().encode('{"text":"Once upon a tide","finish_reason":"length"}') },
      { ...signed, attempt: 3 },
      { ...signed, modelDigest: 'sha256:cd' },
      { ...signed, error: { code: 'ENGINE_FAILED', message: '', retryable: true } },
      { ...signed, signature: new Uint8Array(64) }
    ]
    for (const r of tampered) await expectCode(verifyTaskResult(peerId, r), 'RESULT_BAD_SIGNATURE')
  })

  it('does not confuse fields that concatenate to the same bytes', async () => {
    const { key, peerId } = await identity()
    const signed = await signTaskResult(key, { ...result(), taskId: 'ab', modelDigest: 'c' })
    await expectCode(verifyTaskResult(peerId, { ...signed, taskId: 'a', modelDigest: 'bc' }), 'RESULT_BAD_SIGNATURE')
  })
})

describe('ResultVerifier', () => {
  it('verifies like verifyTaskResult, caching the imported key', async () => {
    const { ResultVerifier } = await import('./index.js')
    const { key, peerId } = await identity()
    const other = await identity()
    const verifier = new ResultVerifier()
    const result: TaskResult = { taskId: 't', attempt: 1, model: 'm', modelDigest: 'sha256:ab', output: new TextEncoder().encode('{}'), signature: new Uint8Array() }
    const signed = await signTaskResult(key, result)
    for (let i = 0; i < 3; i++) await expect(verifier.verify(peerId, signed)).resolves.toBeUndefined()
    await expectCode(verifier.verify(other.peerId, signed), 'RESULT_BAD_SIGNATURE')
    await expectCode(verifier.verify(peerId, { ...signed, attempt: 2 }), 'RESULT_BAD_SIGNATURE')
    await expectCode(verifier.verify(peerId, { ...signed, signature: signed.signature.subarray(1) }), 'RESULT_BAD_SIGNATURE')
  })
})

describe('ResultSigner', () => {
  it('signs exactly like signTaskResult (Ed25519 signatures are deterministic)', async () => {
    const { ResultSigner } = await import('./index.js')
    const { key, peerId } = await identity()
    const result: TaskResult = { taskId: 't', attempt: 3, model: 'm', modelDigest: 'sha256:ab', output: new TextEncoder().encode('{"text":"x"}'), signature: new Uint8Array() }
    const signed = await new ResultSigner(key).sign(result)
    expect(Buffer.from(signed.signature)).toEqual(Buffer.from((await signTaskResult(key, result)).signature))
    await expect(verifyTaskResult(peerId, signed)).resolves.toBeUndefined()
  })
})
