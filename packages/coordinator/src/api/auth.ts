import { createHash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { apiError } from '../errors.js'

/** Who made a request: the id every file and batch is owned by. */
export interface Principal {
  keyId: string
  plan: string
}

export interface Authenticator {
  authenticate(request: FastifyRequest): Promise<Principal>
}

export function hashKey (key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

/** `Authorization: Bearer <key>` (OpenAI) or `x-api-key: <key>` (Dria). */
export function presentedKey (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header === 'string' && header.startsWith('Bearer ')) return header.slice(7).trim()
  const apiKey = request.headers['x-api-key']
  return typeof apiKey === 'string' ? apiKey.trim() : undefined
}

/**
 * Static keys from DRIA_API_KEYS. Only their hashes are kept and compared; the owner id is
 * derived from the hash, never from the key itself.
 */
export function createStaticKeyAuthenticator (keys: string[]): Authenticator {
  const hashes = new Set(keys.map(hashKey))
  return {
    async authenticate (request) {
      const key = presentedKey(request)
      if (key === undefined || key.length === 0) throw apiError('invalid_api_key', 'Missing API key: send Authorization: Bearer <key>.')
      const hash = hashKey(key)
      if (!hashes.has(hash)) throw apiError('invalid_api_key', 'Incorrect API key provided.')
      return { keyId: `key_${hash.slice(0, 24)}`, plan: 'enterprise' }
    }
  }
}
