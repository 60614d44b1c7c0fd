import { DriaError } from '../errors.js'
import type { PeerId, PublicKey } from '@libp2p/interface'

/**
 * The public key embedded in an Ed25519 (or secp256k1) peer id. RSA peer ids only carry a
 * hash of their key, so records from them could not be verified offline and are refused.
 */
export function embeddedPublicKey (peerId: PeerId, code: string): PublicKey {
  if (peerId.publicKey == null) {
    throw new DriaError(code, `peer id ${peerId.toString()} does not embed its public key`)
  }
  return peerId.publicKey
}
