import type { FastifyInstance } from 'fastify'
import type { Store } from '../store/index.js'
import type { Authenticator } from './auth.js'
import { listOf, withErrors } from './schemas.js'

const countsSchema = { type: 'object', properties: { total: { type: 'integer' }, completed: { type: 'integer' }, failed: { type: 'integer' } } } as const
const usageSchema = { type: 'object', properties: { input_tokens: { type: 'integer' }, output_tokens: { type: 'integer' }, total_tokens: { type: 'integer' } } } as const

interface KeyUsage {
  key_id: string
  batches: number
  requests: { total: number, completed: number, failed: number }
  usage: { input_tokens: number, output_tokens: number, total_tokens: number }
}

/**
 * Usage per API key, summed over every batch the key created, as last saved (a running
 * batch's counts are saved at each status change). Static keys appear as `key_<hash prefix>`.
 */
export function registerAdminUsageRoutes (app: FastifyInstance, components: { store: Store, auth: Authenticator }): void {
  const { store, auth } = components

  app.get('/admin/usage', {
    schema: {
      response: withErrors({
        200: listOf({ type: 'object', properties: { key_id: { type: 'string' }, batches: { type: 'integer' }, requests: countsSchema, usage: usageSchema } })
      })
    }
  }, async (request) => {
    auth.authenticateAdmin(request)
    const byKey = new Map<string, KeyUsage>()
    for await (const batch of store.batches.all()) {
      const entry = byKey.get(batch.owner) ?? {
        key_id: batch.owner,
        batches: 0,
        requests: { total: 0, completed: 0, failed: 0 },
        usage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 }
      }
      entry.batches++
      entry.requests.total += batch.request_counts.total
      entry.requests.completed += batch.request_counts.completed
      entry.requests.failed += batch.request_counts.failed
      entry.usage.input_tokens += batch.usage.input_tokens
      entry.usage.output_tokens += batch.usage.output_tokens
      entry.usage.total_tokens += batch.usage.total_tokens
      byKey.set(batch.owner, entry)
    }
    return { object: 'list', data: [...byKey.values()].sort((a, b) => a.key_id.localeCompare(b.key_id)) }
  })
}
