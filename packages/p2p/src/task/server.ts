import { DriaError, TASK_PROTOCOL, TaskRequest, TaskResponse, isDriaError } from '@dria/protocol'
import { lpStream } from '@libp2p/utils'
import { TASK_MAX_STREAMS, TASK_READ_TIMEOUT_MS } from '../constants.js'
import { TASK_STREAM_LIMITS } from './limits.js'
import type { DriaHost } from '../host/index.js'
import type { Logger } from '@dria/protocol'
import type { Connection, PeerId, Stream } from '@libp2p/interface'

export interface TaskContext {
  remotePeer: PeerId
  /** Aborts when the requester goes away (stream reset, connection lost) or the server stops. */
  signal: AbortSignal
}

export type TaskHandler = (request: TaskRequest, context: TaskContext) => Promise<TaskResponse>

export interface TaskServerComponents {
  host: DriaHost
  logger: Logger
}

export interface TaskServerInit {
  handler: TaskHandler
  /** Concurrent task streams per connection. Default 256. */
  maxInboundStreams?: number
  /** How long to wait for the request once a stream opens. Default 10 s. */
  readTimeoutMs?: number
}

export interface TaskServer {
  start(): Promise<void>
  /**
   * Stops accepting tasks; waits up to `graceMs` (default 0) for answers still being
   * written, then aborts what is left.
   */
  stop(options?: { graceMs?: number }): Promise<void>
}

/**
 * A handler that throws answers with an (unsigned) error result rather than a dropped stream,
 * so the requester learns why; a DriaError keeps its code and retryability.
 */
function failureResponse (request: TaskRequest, err: unknown): TaskResponse {
  const coded = isDriaError(err)
  return {
    result: {
      taskId: request.taskId,
      attempt: request.attempt,
      model: request.model,
      modelDigest: '',
      output: new Uint8Array(),
      error: {
        code: coded ? err.code : 'TASK_HANDLER_FAILED',
        message: err instanceof Error ? err.message : String(err),
        retryable: coded ? err.retryable : true
      },
      signature: new Uint8Array()
    }
  }
}

/** Serves TASK_PROTOCOL: one stream per task, one TaskRequest in, one TaskResponse out. */
export function createTaskServer (components: TaskServerComponents, init: TaskServerInit): TaskServer {
  const { host } = components
  const log = components.logger.child({ module: 'task-server' })
  const maxStreams = init.maxInboundStreams ?? TASK_MAX_STREAMS
  const readTimeoutMs = init.readTimeoutMs ?? TASK_READ_TIMEOUT_MS
  const open = new Set<Stream>()
  let onIdle: (() => void) | undefined

  async function serve (stream: Stream, connection: Connection): Promise<void> {
    open.add(stream)
    try {
      await answer(stream, connection.remotePeer)
    } finally {
      open.delete(stream)
      if (open.size === 0) onIdle?.()
    }
  }

  async function idle (graceMs: number): Promise<void> {
    if (open.size === 0 || graceMs <= 0) return
    let timer: NodeJS.Timeout | undefined
    await new Promise<void>(resolve => {
      onIdle = resolve
      timer = setTimeout(resolve, graceMs)
    })
    clearTimeout(timer)
    onIdle = undefined
  }

  async function answer (stream: Stream, remotePeer: PeerId): Promise<void> {
    const peer = remotePeer.toString()
    const messages = lpStream(stream, TASK_STREAM_LIMITS)
    let request: TaskRequest
    try {
      request = TaskRequest.decode((await messages.read({ signal: AbortSignal.timeout(readTimeoutMs) })).subarray())
    } catch (err) {
      log.warn({ peer, err }, 'unreadable task request')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      return
    }

    // 'close' before we answered means the stream was reset, the connection dropped or we stopped.
    const abandoned = new AbortController()
    const onClose = (): void => { abandoned.abort(new DriaError('TASK_ABANDONED', 'task stream closed before the answer')) }
    stream.addEventListener('close', onClose, { once: true })
    let response: TaskResponse
    try {
      response = await init.handler(request, { remotePeer, signal: abandoned.signal })
    } catch (err) {
      if (abandoned.signal.aborted) {
        log.debug({ peer, taskId: request.taskId }, 'task abandoned')
        return
      }
      log.warn({ peer, taskId: request.taskId, err }, 'task handler failed')
      response = failureResponse(request, err)
    } finally {
      stream.removeEventListener('close', onClose)
    }

    try {
      await messages.write(TaskResponse.encode(response))
      await stream.close()
    } catch (err) {
      log.debug({ peer, taskId: request.taskId, err }, 'task response not delivered')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  return {
    async start () {
      await host.handle(TASK_PROTOCOL, serve, {
        maxInboundStreams: maxStreams,
        // also the limit for this host's own outbound task streams on the protocol
        maxOutboundStreams: maxStreams
      })
    },
    async stop (options = {}) {
      await host.unhandle(TASK_PROTOCOL)
      await idle(options.graceMs ?? 0)
      for (const stream of open) stream.abort(new DriaError('TASK_SERVER_STOPPED', 'task server stopped'))
    }
  }
}
