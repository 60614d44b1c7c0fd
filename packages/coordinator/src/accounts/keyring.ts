import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'

/**
 * Everything derived from the coordinator's server secret (32 random bytes kept in the data
 * dir). Without that file, nothing stored in LevelDB leads back to an API key.
 */
export interface Keyring {
  /** Keyed hash of an API key: key records are looked up by it. */
  hashKey(key: string): string
  /** The Standard Webhooks signing secret of an owner, `whsec_<base64>`: stable, never stored. */
  webhookSecret(owner: string): string
  /** An HMAC of `data` (base64url): signs pre-signed download URLs. */
  sign(data: string): string
  /** Whether `signature` is `sign(data)`, compared in constant time. */
  verify(data: string, signature: string): boolean
}

const SECRET_BYTES = 32

/** Domain-separated so that no derived value can stand in for another. */
function mac (secret: Buffer, purpose: string, data: string): Buffer {
  return createHmac('sha256', secret).update(purpose).update('\x00').update(data).digest()
}

export function createKeyring (secret: Buffer): Keyring {
  return {
    hashKey: key => mac(secret, 'api-key', key).toString('hex'),
    webhookSecret: owner => `whsec_${mac(secret, 'webhook', owner).subarray(0, 24).toString('base64')}`,
    sign: data => mac(secret, 'url', data).toString('base64url'),
    verify (data, signature) {
      const expected = mac(secret, 'url', data)
      const given = Buffer.from(signature, 'base64url')
      return given.length === expected.length && timingSafeEqual(given, expected)
    }
  }
}

/** Reads the server secret at `path`, creating it (owner-only) on first start. */
export async function loadOrCreateKeyring (path: string): Promise<Keyring> {
  try {
    return createKeyring(Buffer.from((await readFile(path, 'utf8')).trim(), 'hex'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const secret = randomBytes(SECRET_BYTES)
  try {
    // 'wx': if another start wrote it first, that one is used.
    await writeFile(path, secret.toString('hex'), { mode: 0o600, flag: 'wx' })
    return createKeyring(secret)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    return createKeyring(Buffer.from((await readFile(path, 'utf8')).trim(), 'hex'))
  }
}
