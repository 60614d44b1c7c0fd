import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { Logger } from '@dria/protocol'
import type { Keyring, PlanLimits, PlanName } from '../accounts/index.js'
import { DEFAULT_PLANS } from '../accounts/index.js'
import { apiError } from '../errors.js'
import type { Store } from '../store/index.js'

/** Who made a request: files and batches are owned by `keyId`; `limits` come from the plan. */
export interface Principal {
  keyId: string
  plan: PlanName
  limits: PlanLimits
}

export interface Authenticator {
  /** Gives the static keys their owner ids (moving records of owner ids from before keyed hashing). */
  start(): Promise<void>
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

/** `Authorization: Bearer <token>`, the scheme in any case (RFC 7235). */
function bearerToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header !== 'string') return undefined
  const match = /^bearer\s+(.*)$/i.exec(header)
  return match === null ? undefined : match[1].trim()
}

/** `Authorization: Bearer <key>` (OpenAI) or `x-api-key: <key>` (Dria). */
export function presentedKey (request: FastifyRequest): string | undefined {
  const bearer = bearerToken(request)
  if (bearer !== undefined) return bearer
  const apiKey = request.headers['x-api-key']
  return typeof apiKey === 'string' ? apiKey.trim() : undefined
}

/** How keys were hashed before keyed hashing: only to recognise records written then. */
function legacyHash (key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

/**
 * API keys: static ones from DRIA_API_KEYS and those created through the admin API. Keys are
 * looked up by their keyed hash (HMAC with the server secret); owner ids are random, so the
 * records in LevelDB do not lead back to a key.
 */
export function createAuthenticator (components: { store: Store, keyring: Keyring, logger?: Logger }, init: AuthenticatorInit = {}): Authenticator {
  const { store, keyring } = components
  const keys = store.keys
  const plans = init.plans ?? DEFAULT_PLANS
  const staticKeys = init.staticKeys ?? []
  /** Keyed hash of each static key → its owner id (filled by start()). */
  const staticOwners = new Map<string, string>()
  const admin = init.adminToken !== undefined && init.adminToken !== '' ? Buffer.from(keyring.hashKey(init.adminToken), 'hex') : undefined

  async function findKey (key: string): Promise<{ id: string, plan: PlanName } | undefined> {
    const hash = keyring.hashKey(key)
    const record = await keys.findByHash(hash)
    if (record !== undefined) return record
    const legacy = await keys.findByHash(legacyHash(key))
    return legacy === undefined ? undefined : await keys.rehash(legacy, hash)
  }

  return {
    async start () {
      for (const key of staticKeys) {
        const hash = keyring.hashKey(key)
        const { owner, created } = await keys.staticOwner(hash)
        staticOwners.set(hash, owner)
        if (!created) continue
        // Records of the owner id this key had when owner ids derived from its plain hash.
        const old = `key_${legacyHash(key).slice(0, 24)}`
        const moved = await store.files.reassign(old, owner) + await store.batches.reassign(old, owner) + await store.uploads.reassign(old, owner)
        if (moved > 0) components.logger?.info({ moved }, 'records of a static key moved to its new owner id')
      }
    },
    async authenticate (request) {
      const key = presentedKey(request)
      if (key === undefined || key.length === 0) throw apiError('invalid_api_key', 'Missing API key: send Authorization: Bearer <key>.')
      const owner = staticOwners.get(keyring.hashKey(key))
      if (owner !== undefined) return { keyId: owner, plan: 'enterprise', limits: plans.enterprise }
      const record = await findKey(key)
      if (record === undefined) throw apiError('invalid_api_key', 'Incorrect API key provided.')
      return { keyId: record.id, plan: record.plan, limits: plans[record.plan] }
    },
    authenticateAdmin (request) {
      if (admin === undefined) throw apiError('invalid_admin_token', 'The admin API is disabled: set DRIA_ADMIN_TOKEN.')
      const token = bearerToken(request)
      const ok = token !== undefined && timingSafeEqual(Buffer.from(keyring.hashKey(token), 'hex'), admin)
      if (!ok) throw apiError('invalid_admin_token', 'Incorrect admin token: send Authorization: Bearer <admin token>.')
    }
  }
}
