import { peerIdFromString } from '@libp2p/peer-id'
import { concat } from 'uint8arrays/concat'
import { equals } from 'uint8arrays/equals'
import { RECORD_KEY_PREFIX } from '../constants.js'
import { DriaError } from '../errors.js'
import { CapacityRecord, SignedRecord } from '../generated/dria.js'
import { embeddedPublicKey } from './peer-key.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

/** kad-dht picks a record's validator and selector by the first segment of its key. */
export const CAPACITY_RECORD_NAMESPACE = RECORD_KEY_PREFIX.split('/')[1]

/** Same shapes as kad-dht's `ValidateFn` / `SelectFn`, without depending on kad-dht here. */
export type RecordValidator = (key: Uint8Array, value: Uint8Array) => Promise<void>
export type RecordSelector = (key: Uint8Array, records: Uint8Array[]) => Promise<number>

/**
 * How far ahead of this peer's clock a record may be stamped. Beyond it a record would outlive
 * its node (never looking stale) and win the highest-`seq` selection forever.
 */
export const MAX_RECORD_CLOCK_SKEW_MS = 60_000

// Domain separation: a capacity signature can never be replayed as any other signed message.
const SIGNING_DOMAIN = new TextEncoder().encode('dria-capacity-record:')
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

function signingPayload (payload: Uint8Array): Uint8Array {
  return concat([SIGNING_DOMAIN, payload])
}

/** `/dria/<peerId>`: where a node's signed capacity record lives in the DHT. */
export function capacityRecordKey (peerId: PeerId): Uint8Array {
  return encoder.encode(`${RECORD_KEY_PREFIX}${peerId.toString()}`)
}

/** Encodes and signs `record`; the result is the DHT value (an encoded SignedRecord). */
export async function signCapacityRecord (privateKey: PrivateKey, record: CapacityRecord): Promise<Uint8Array> {
  const payload = CapacityRecord.encode(record)
  const signature = await privateKey.sign(signingPayload(payload))
  return SignedRecord.encode({ payload, signature })
}

function peerOfKey (key: Uint8Array): PeerId {
  try {
    const text = decoder.decode(key)
    if (!text.startsWith(RECORD_KEY_PREFIX)) throw new Error(`key does not start with ${RECORD_KEY_PREFIX}`)
    return peerIdFromString(text.slice(RECORD_KEY_PREFIX.length))
  } catch (err) {
    throw new DriaError('RECORD_KEY_MISMATCH', 'record key is not /dria/<peerId>', { cause: err })
  }
}

/**
 * Decodes and verifies a capacity record stored under `key`: the key names a peer, the record
 * claims that same peer, the signature verifies with the key embedded in its peer id, and it
 * is not stamped in the future (its `seq` is a timestamp too).
 */
export async function openCapacityRecord (key: Uint8Array, value: Uint8Array): Promise<CapacityRecord> {
  const peerId = peerOfKey(key)
  const publicKey = embeddedPublicKey(peerId, 'RECORD_KEY_MISMATCH')
  let signed: SignedRecord
  let record: CapacityRecord
  try {
    signed = SignedRecord.decode(value)
    record = CapacityRecord.decode(signed.payload)
  } catch (err) {
    throw new DriaError('RECORD_MALFORMED', 'capacity record does not decode', { cause: err })
  }
  if (!equals(record.peerId, peerId.toMultihash().bytes)) {
    throw new DriaError('RECORD_KEY_MISMATCH', 'capacity record is for another peer than its key')
  }
  let valid = false
  try {
    valid = await publicKey.verify(signingPayload(signed.payload), signed.signature)
  } catch {
    // malformed signatures throw in some key types; they are just as invalid
  }
  if (!valid) throw new DriaError('RECORD_BAD_SIGNATURE', 'capacity record signature does not verify')
  const latest = Date.now() + MAX_RECORD_CLOCK_SKEW_MS
  if (record.issuedAtMs > latest || record.seq > latest) {
    throw new DriaError('RECORD_FROM_FUTURE', 'capacity record is stamped in the future')
  }
  return record
}

/** kad-dht validator for `/dria/` keys: throws unless the record verifies. */
export const capacityRecordValidator: RecordValidator = async (key, value) => {
  await openCapacityRecord(key, value)
}

/**
 * kad-dht selector for `/dria/` keys: the valid record with the highest `seq` (first wins ties).
 * Records are re-verified so a caller that skipped validation still cannot get a forged one.
 */
export const capacityRecordSelector: RecordSelector = async (key, records) => {
  let best = 0
  let bestSeq = -1
  for (const [index, value] of records.entries()) {
    const seq = await openCapacityRecord(key, value).then(record => record.seq, () => -1)
    if (seq > bestSeq) {
      best = index
      bestSeq = seq
    }
  }
  return best
}
