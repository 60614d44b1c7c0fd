import type { FastifyInstance } from 'fastify'
import { PLAN_NAMES } from '../accounts/index.js'
import type { ApiKeyRecord, KeyStore, Keyring, PlanName } from '../accounts/index.js'
import { apiError } from '../errors.js'
import type { Authenticator } from './auth.js'
import { idParams, listOf, withErrors } from './schemas.js'

const keySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    object: { type: 'string' },
    name: { type: 'string' },
    plan: { type: 'string' },
    created_at: { type: 'integer' },
    prefix: { type: 'string' },
    key: { type: 'string' },
    webhook_secret: { type: 'string' }
  }
} as const

function keyObject (record: ApiKeyRecord): Omit<ApiKeyRecord, 'hash'> {
  const { hash: _hash, ...rest } = record
  return rest
}

/** API key management, authorised by DRIA_ADMIN_TOKEN. */
export function registerAdminRoutes (app: FastifyInstance, components: { keys: KeyStore, auth: Authenticator, keyring: Keyring }): void {
  const { keys, auth, keyring } = components

  app.post<{ Body: { name: string, plan: PlanName } }>('/admin/keys', {
    schema: {
      body: {
        type: 'object',
        required: ['name', 'plan'],
        additionalProperties: false,
        properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, plan: { type: 'string', enum: [...PLAN_NAMES] } }
      },
      response: withErrors({ 200: keySchema })
    }
  }, async (request) => {
    auth.authenticateAdmin(request)
    const { record, key } = await keys.create(request.body.name, request.body.plan, keyring.hashKey)
    // Shown once, like the key: it signs the key's webhook events.
    return { ...keyObject(record), key, webhook_secret: keyring.webhookSecret(record.id) }
  })

  app.get('/admin/keys', {
    schema: { response: withErrors({ 200: listOf(keySchema) }) }
  }, async (request) => {
    auth.authenticateAdmin(request)
    return { object: 'list', data: (await keys.list()).map(keyObject) }
  })

  app.delete<{ Params: { id: string } }>('/admin/keys/:id', {
    schema: { params: idParams, response: withErrors({ 200: { type: 'object', properties: { id: { type: 'string' }, object: { type: 'string' }, deleted: { type: 'boolean' } } } }) }
  }, async (request) => {
    auth.authenticateAdmin(request)
    const record = await keys.revoke(request.params.id)
    if (record === undefined) throw apiError('key_not_found', `No API key found with id '${request.params.id}'.`)
    return { id: record.id, object: 'api_key', deleted: true }
  })
}
