import { randomBytes } from 'node:crypto'
import { DriaError, MAX_TASK_MESSAGE_BYTES, invalidType, isDriaError, mediaOf, parseOpenAIBody } from '@dria/protocol'
import type { TaskKindName } from '@dria/protocol'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { inferenceResultOf } from '../batches/index.js'
import type { NetworkView } from '../network/index.js'
import { chatCompletionBody, embeddingListBody, textCompletionBody } from '../output/index.js'
import type { Scheduler } from '../scheduler/index.js'
import type { TaskOutcome } from '../store/index.js'
import type { Authenticator } from './auth.js'
import { MODEL_WATCH_MS, REALTIME_RETRY_AFTER_SECONDS } from './constants.js'
import { errorBody } from './error-handler.js'
import { chatCompletionEvents, textCompletionEvents } from './realtime-stream.js'
import { withErrors } from './schemas.js'

export interface RealtimeComponents {
  scheduler: Scheduler
  network: NetworkView
  auth: Authenticator
}

const usageSchema = {
  type: 'object',
  properties: { prompt_tokens: { type: 'integer' }, completion_tokens: { type: 'integer' }, total_tokens: { type: 'integer' } }
} as const

const head = {
  id: { type: 'string' },
  object: { type: 'string' },
  created: { type: 'integer' },
  model: { type: 'string' },
  system_fingerprint: { type: 'string' },
  usage: usageSchema
} as const

const chatSchema = {
  type: 'object',
  properties: {
    ...head,
    choices: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          index: { type: 'integer' },
          message: { type: 'object', properties: { role: { type: 'string' }, content: { type: 'string' }, refusal: { type: 'null' } } },
          logprobs: { type: 'null' },
          finish_reason: { type: 'string' }
        }
      }
    }
  }
} as const

const completionSchema = {
  type: 'object',
  properties: {
    ...head,
    choices: {
      type: 'array',
      items: { type: 'object', properties: { text: { type: 'string' }, index: { type: 'integer' }, logprobs: { type: 'null' }, finish_reason: { type: 'string' } } }
    }
  }
} as const

const embeddingsSchema = {
  type: 'object',
  properties: {
    object: { type: 'string' },
    model: { type: 'string' },
    data: {
      type: 'array',
      items: { type: 'object', properties: { object: { type: 'string' }, index: { type: 'integer' }, embedding: { type: 'array', items: { type: 'number' } } } }
    },
    usage: { type: 'object', properties: { prompt_tokens: { type: 'integer' }, total_tokens: { type: 'integer' } } }
  }
} as const

const ENDPOINTS: Array<{ path: string, kind: TaskKindName, schema: object }> = [
  { path: '/v1/chat/completions', kind: 'chat', schema: chatSchema },
  { path: '/v1/completions', kind: 'completion', schema: completionSchema },
  { path: '/v1/embeddings', kind: 'embedding', schema: embeddingsSchema }
]

type Body = Record<string, unknown>

/** Splits what only the HTTP layer handles (`stream`, `stream_options`) from the request body the network runs. */
function streamingOf (kind: TaskKindName, body: Body): { stream: boolean, includeUsage: boolean, body: Body } {
  const { stream, stream_options: options, ...rest } = body
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') throw invalidType('stream', 'a boolean', stream)
  if (stream === true && kind === 'embedding') throw new DriaError('streaming_unsupported', 'Embeddings cannot be streamed.', { param: 'stream' })
  if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) throw invalidType('stream_options', 'an object', options)
  const includeUsage = stream === true && (options as { include_usage?: unknown } | null | undefined)?.include_usage === true
  return { stream: stream === true, includeUsage, body: rest }
}

function fail (reply: FastifyReply, status: number, code: string, message: string, param: string | null = null): FastifyReply {
  if (status === 503) void reply.header('retry-after', String(REALTIME_RETRY_AFTER_SECONDS))
  return reply.status(status).send(errorBody(status, code, message, param))
}

function newRequestId (): string {
  return randomBytes(12).toString('base64url')
}

/**
 * OpenAI's real-time endpoints, answered by the network: each request runs on a live node
 * through the scheduler (ahead of batch work within the real-time share), with the same
 * verification, retries on other nodes and signed receipts as batch lines. `stream: true`
 * gets OpenAI's SSE chunks, sent once the verified result is there.
 */
export function registerRealtimeRoutes (app: FastifyInstance, components: RealtimeComponents): void {
  const { scheduler, network, auth } = components

  for (const { path, kind, schema } of ENDPOINTS) {
    app.post<{ Body: Body }>(path, {
      bodyLimit: MAX_TASK_MESSAGE_BYTES,
      schema: { body: { type: 'object' }, response: withErrors({ 200: schema }) }
    }, async (request, reply) => {
      const { keyId } = await auth.authenticate(request)
      const { stream, includeUsage, body } = streamingOf(kind, request.body)
      const parsed = parseOpenAIBody(kind, body)
      const model = parsed.request.model
      const served = network.models().find(m => m.name === model)
      if (served === undefined) return fail(reply, 503, 'no_capacity', `No node serves model '${model}' right now.`)
      for (const media of mediaOf(parsed)) {
        if (!served.capabilities.includes(media)) {
          return fail(reply, 400, `${media}_unsupported`, `Model '${model}' does not read ${media === 'vision' ? 'images' : 'audio'}.`, 'messages')
        }
      }

      // A client that goes away abandons its request: nobody would read the answer.
      const gone = new AbortController()
      reply.raw.on('close', () => { if (!reply.raw.writableFinished) gone.abort() })
      // A request whose model loses its last node would wait for one to come: it is answered 503 now.
      let lost = false
      const watch = setInterval(() => {
        if (network.isModelServed(model)) return
        lost = true
        gone.abort()
      }, MODEL_WATCH_MS)
      let outcome: TaskOutcome
      try {
        outcome = await scheduler.runRealtime({ owner: keyId, kind, model, json: JSON.stringify(body) }, gone.signal)
      } catch (err) {
        if (lost) return fail(reply, 503, 'no_capacity', `The last node serving model '${model}' left.`)
        if (gone.signal.aborted) return reply
        if (isDriaError(err, 'no_capacity')) return fail(reply, 503, 'no_capacity', err.message)
        if (isDriaError(err, 'REQUEST_ABANDONED')) return fail(reply, 503, 'shutting_down', 'The coordinator is shutting down; try again.')
        if (isDriaError(err)) return fail(reply, err.retryable ? 500 : 400, err.code, err.message)
        throw err
      } finally {
        clearInterval(watch)
      }

      const requestId = newRequestId()
      const context = { requestId, model, created: Math.floor(outcome.finishedAt / 1000), modelDigest: outcome.modelDigest }
      // The receipt: which node answered, and its signature over the result.
      void reply.header('x-request-id', requestId).header('x-dria-node', outcome.peer).header('x-dria-signature', outcome.signature)
      const result = inferenceResultOf(kind, outcome)
      if (result.kind === 'embedding') return embeddingListBody(context, result.result)
      if (result.kind === 'chat') {
        const completion = chatCompletionBody(context, result.result)
        if (!stream) return completion
        return await reply.header('cache-control', 'no-cache').type('text/event-stream; charset=utf-8').send(chatCompletionEvents(completion, includeUsage))
      }
      const completion = textCompletionBody(context, result.result)
      if (!stream) return completion
      return await reply.header('cache-control', 'no-cache').type('text/event-stream; charset=utf-8').send(textCompletionEvents(completion, includeUsage))
    })
  }
}
