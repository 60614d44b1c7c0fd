import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { KeyStore, PlanLimits, PlanName } from '../accounts/index.js'
import { DEFAULT_PLANS } from '../accounts/index.js'
import { apiError } from '../errors.js'

/** Who made a request: files and batches are owned by `keyId`; `limits` come from the plan. */
export interface Principal {
  keyId: string
  plan: PlanName
  limits: PlanLimits
}

export interface Authenticator {
  authenticate(request: FastifyRequest): Promise<Principal>
  /** Accepts only `Authorization: Bearer $DRIA_ADMIN_TOKEN`. */
  authenticateAdmin(request: FastifyRequest): void
}

export interface AuthenticatorInit {
  /** Keys from DRIA_API_KEYS: enterprise plan. */
  staticKeys?: string[]
  adminToken?: string
  plans?: Record<PlanName, PlanLimits>
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
 * API keys: static ones from DRIA_API_KEYS and those created through the admin API. Only
 * hashes are kept and compared; owner ids derive from the hash (static) or the key record.
 */
export function createAuthenticator (components: { keys?: KeyStore }, init: AuthenticatorInit = {}): Authenticator {
  const staticHashes = new Set((init.staticKeys ?? []).map(hashKey))
  const plans = init.plans ?? DEFAULT_PLANS
  const adminHash = init.adminToken !== undefined && init.adminToken !== '' ? Buffer.from(hashKey(init.adminToken), 'hex') : undefined

  return {
    async authenticate (request) {
      const key = presentedKey(request)
      if (key === undefined || key.length === 0) throw apiError('invalid_api_key', 'Missing API key: send Authorization: Bearer <key>.')
      const hash = hashKey(key)
      if (staticHashes.has(hash)) return { keyId: `key_${hash.slice(0, 24)}`, plan: 'enterprise', limits: plans.enterprise }
      const record = await components.keys?.findByHash(hash)
      if (record === undefined) throw apiError('invalid_api_key', 'Incorrect API key provided.')
      return { keyId: record.id, plan: record.plan, limits: plans[record.plan] }
    },
    authenticateAdmin (request) {
      if (adminHash === undefined) throw apiError('invalid_admin_token', 'The admin API is disabled: set DRIA_ADMIN_TOKEN.')
      const token = presentedKey(request)
      const ok = token !== undefined && timingSafeEqual(Buffer.from(hashKey(token), 'hex'), adminHash)
      if (!ok) throw apiError('invalid_admin_token', 'Incorrect admin token.')
    }
  }
}

/** Static keys only (tests and simple setups). */
export function createStaticKeyAuthenticator (keys: string[]): Authenticator {
  return createAuthenticator({}, { staticKeys: keys })
}
