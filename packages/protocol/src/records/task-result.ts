import { createHash, createPrivateKey, createPublicKey, sign as createSignature, verify as verifySignature } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { concat } from 'uint8arrays/concat'
import { DriaError } from '../errors.js'
import { embeddedPublicKey } from './peer-key.js'
import type { TaskResult } from '../generated/dria.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

const SIGNING_DOMAIN = 'dria-task-result:v1'
const encoder = new TextEncoder()

/** Each field as a 4-byte big-endian length and its bytes: no two field lists share an encoding. */
function lengthPrefixed (fields: Uint8Array[]): Uint8Array {
  return concat(fields.flatMap(field => {
    const length = new Uint8Array(4)
    new DataView(length.buffer).setUint32(0, field.byteLength)
    return [length, field]
  }))
}

function signingPayload (result: TaskResult): Uint8Array {
  const attempt = new Uint8Array(4)
  new DataView(attempt.buffer).setUint32(0, result.attempt)
  return lengthPrefixed([
    encoder.encode(SIGNING_DOMAIN),
    encoder.encode(result.taskId),
    attempt,
    encoder.encode(result.modelDigest),
    createHash('sha256').update(result.output).digest(),
    encoder.encode(result.error?.code ?? '')
  ])
}

/** Returns `result` with `signature` set: the node's receipt for what it computed. */
export async function signTaskResult (privateKey: PrivateKey, result: TaskResult): Promise<TaskResult> {
  return { ...result, signature: await privateKey.sign(signingPayload(result)) }
}

/** Throws `RESULT_BAD_SIGNATURE` unless `result` was signed by `peerId`. */
export async function verifyTaskResult (peerId: PeerId, result: TaskResult): Promise<void> {
  const publicKey = embeddedPublicKey(peerId, 'RESULT_BAD_SIGNATURE')
  let valid = false
  try {
    valid = await publicKey.verify(signingPayload(result), result.signature)
  } catch {
    // malformed signatures throw in some key types; they are just as invalid
  }
  if (!valid) throw new DriaError('RESULT_BAD_SIGNATURE', `task result signature does not verify for ${peerId.toString()}`)
}

/** Most peers whose imported keys a ResultVerifier keeps. */
const MAX_CACHED_KEYS = 4096

/**
 * `verifyTaskResult` for a hot path: each peer's Ed25519 key is imported once (importing it
 * for every result cost 11% of a coordinator's dispatch time), other key types fall back.
 */
export class ResultVerifier {
  readonly #keys = new Map<string, KeyObject>()

  /** Throws `RESULT_BAD_SIGNATURE` unless `result` was signed by `peerId`. */
  async verify (peerId: PeerId, result: TaskResult): Promise<void> {
    const publicKey = embeddedPublicKey(peerId, 'RESULT_BAD_SIGNATURE')
    if (publicKey.type !== 'Ed25519') {
      await verifyTaskResult(peerId, result)
      return
    }
    const id = peerId.toString()
    let key = this.#keys.get(id)
    if (key === undefined) {
      key = createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey.raw).toString('base64url') } })
      if (this.#keys.size >= MAX_CACHED_KEYS) this.#keys.clear()
      this.#keys.set(id, key)
    }
    let valid = false
    try {
      valid = result.signature.byteLength === 64 && verifySignature(null, signingPayload(result), key, result.signature)
    } catch {
      // malformed signatures are just as invalid
    }
    if (!valid) throw new DriaError('RESULT_BAD_SIGNATURE', `task result signature does not verify for ${id}`)
  }
}

/**
 * `signTaskResult` for a hot path: an Ed25519 key is imported once, not for every result
 * (importing cost more than the signing itself); other key types fall back.
 */
export class ResultSigner {
  readonly #privateKey: PrivateKey
  readonly #key: KeyObject | undefined

  constructor (privateKey: PrivateKey) {
    this.#privateKey = privateKey
    this.#key = privateKey.type === 'Ed25519'
      ? createPrivateKey({
        format: 'jwk',
        key: {
          kty: 'OKP',
          crv: 'Ed25519',
          d: Buffer.from(privateKey.raw.subarray(0, 32)).toString('base64url'),
          x: Buffer.from(privateKey.publicKey.raw).toString('base64url')
        }
      })
      : undefined
  }

  /** Returns `result` with `signature` set. */
  async sign (result: TaskResult): Promise<TaskResult> {
    if (this.#key === undefined) return await signTaskResult(this.#privateKey, result)
    return { ...result, signature: createSignature(null, signingPayload(result), this.#key) }
  }
}
