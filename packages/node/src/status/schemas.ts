/** JSON schemas of the status endpoint's answers (fastify serializes with them). */

const counts = { type: 'object', additionalProperties: { type: 'integer' } } as const

export const modelEntrySchema = {
  type: 'object',
  required: ['name', 'engine', 'served'],
  properties: {
    name: { type: 'string' },
    engine: { type: 'string' },
    served: { type: 'boolean' },
    digest: { type: 'string' },
    kind: { type: 'string' },
    tokensPerSecond: { type: 'number' },
    reason: { type: 'string' }
  }
} as const

export const coordinatorReportSchema = {
  type: 'object',
  required: ['coordinator', 'trust', 'verified', 'demand', 'at'],
  properties: {
    coordinator: { type: 'string' },
    trust: { type: 'object', required: ['level'], properties: { level: { type: 'string' }, reason: { type: 'string' } } },
    verified: { type: 'object', required: ['tasks', 'tokens'], properties: { tasks: { type: 'integer' }, tokens: { type: 'integer' } } },
    demand: { type: 'array', items: { type: 'object', required: ['model', 'queued'], properties: { model: { type: 'string' }, queued: { type: 'integer' } } } },
    at: { type: 'integer' }
  }
} as const

export const statusSchema = {
  type: 'object',
  required: ['peerId', 'engine', 'startedAt', 'uptimeMs', 'multiaddrs', 'network', 'slots', 'models', 'tasks', 'coordinators'],
  properties: {
    peerId: { type: 'string' },
    engine: { type: 'string' },
    startedAt: { type: 'integer' },
    uptimeMs: { type: 'integer' },
    multiaddrs: { type: 'array', items: { type: 'string' } },
    network: {
      type: 'object',
      required: ['connectedPeers', 'bootstrap'],
      properties: {
        connectedPeers: { type: 'integer' },
        bootstrap: { type: 'array', items: { type: 'object', required: ['address', 'connected'], properties: { address: { type: 'string' }, connected: { type: 'boolean' } } } }
      }
    },
    slots: { type: 'object', required: ['total', 'used', 'queued'], properties: { total: { type: 'integer' }, used: { type: 'integer' }, queued: { type: 'integer' } } },
    models: { type: 'array', items: modelEntrySchema },
    tasks: {
      type: 'object',
      required: ['completed', 'failed', 'rejected', 'failedByCode', 'rejectedByCode', 'promptTokens', 'completionTokens'],
      properties: {
        completed: { type: 'integer' },
        failed: { type: 'integer' },
        rejected: { type: 'integer' },
        failedByCode: counts,
        rejectedByCode: counts,
        promptTokens: { type: 'integer' },
        completionTokens: { type: 'integer' },
        lastTaskAt: { type: 'integer' }
      }
    },
    coordinators: { type: 'array', items: coordinatorReportSchema }
  }
} as const

export const modelsSchema = {
  type: 'object',
  required: ['engine', 'models', 'tried'],
  properties: {
    engine: { type: 'string' },
    models: { type: 'array', items: modelEntrySchema },
    /** Where the node looked for models, one line per source. */
    tried: { type: 'string' }
  }
} as const

export const healthSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' } }
} as const
