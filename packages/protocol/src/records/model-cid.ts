import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'

const RAW_CODEC = 0x55
const encoder = new TextEncoder()

/**
 * The DHT key under which peers announce that they serve `model`: CID v1 (raw) of
 * sha256(`/dria/model/<name>`). Every peer must derive it the same way to meet in the DHT.
 */
export function modelCid (model: string): CID {
  const hash = createHash('sha256').update(encoder.encode(`/dria/model/${model}`)).digest()
  return CID.createV1(RAW_CODEC, Digest.create(sha256.code, hash))
}
