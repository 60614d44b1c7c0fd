import { DriaError, MAX_TASK_MESSAGE_BYTES, TASK_PROTOCOL, TaskRequest, TaskResponse } from '@dria/protocol'
import { lpStream } from '@libp2p/utils'
import { TASK_DIAL_TIMEOUT_MS, TASK_MAX_STREAMS, TASK_TIMEOUT_MS } from '../constants.js'
import { FRAMING_ERRORS, TASK_STREAM_LIMITS } from './limits.js'
import type { DriaHost } from '../host/index.js'
import type { Logger } from '@dria/protocol'
import type { AbortOptions, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface TaskClientComponents {
  host: DriaHost
  logger: Logger
}

export interface TaskClientInit {
  /** Upper bound of one task, engine time included. Default 300 s. */
  timeoutMs?: number
  /** Upper bound of opening the task stream (dial + negotiation). Default 10 s. */
  dialTimeoutMs?: number
  /** Concurrent task streams per connection. Default 256. */
  maxOutboundStreams?: number
}

export interface TaskClient {
  /**
   * Sends one task and waits for its response. Throws a retryable DriaError coded
   * TASK_DIAL_FAILED, TASK_TIMEOUT, TASK_STREAM_FAILED or TASK_RESPONSE_MALFORMED, or
   * TASK_REQUEST_TOO_LARGE (not retryable). An abort through `signal` rethrows its reason.
   * The result signature is not checked here.
   */
  run(peer: PeerId | Multiaddr, request: TaskRequest, options?: AbortOptions): Promise<TaskResponse>
}

function isComplete (response: TaskResponse): boolean {
  return (response.result == null) !== (response.rejection == null)
}

/** Opens one TASK_PROTOCOL stream per task: writes the request, half-closes, reads the response. */
export function createTaskClient (components: TaskClientComponents, init: TaskClientInit = {}): TaskClient {
  const { host } = components
  const log = components.logger.child({ module: 'task-client' })
  const timeoutMs = init.timeoutMs ?? TASK_TIMEOUT_MS
  const dialTimeoutMs = init.dialTimeoutMs ?? TASK_DIAL_TIMEOUT_MS
  const maxOutboundStreams = init.maxOutboundStreams ?? TASK_MAX_STREAMS

  return {
    async run (peer, request, options = {}) {
      const encoded = TaskRequest.encode(request)
      if (encoded.byteLength > MAX_TASK_MESSAGE_BYTES) {
        throw new DriaError('TASK_REQUEST_TOO_LARGE', `task request is ${encoded.byteLength} bytes, the limit is ${MAX_TASK_MESSAGE_BYTES}`)
      }
      options.signal?.throwIfAborted()
      const timeout = AbortSignal.timeout(timeoutMs)
      const signal = options.signal == null ? timeout : AbortSignal.any([options.signal, timeout])
      const failure = (code: string, message: string, cause: unknown): unknown => {
        if (options.signal?.aborted === true) return options.signal.reason
        if (timeout.aborted) return new DriaError('TASK_TIMEOUT', `no task response within ${timeoutMs} ms`, { retryable: true, cause })
        return new DriaError(code, message, { retryable: true, cause })
      }

      let stream: Stream
      try {
        stream = await host.dialProtocol(peer, TASK_PROTOCOL, {
          signal: AbortSignal.any([signal, AbortSignal.timeout(dialTimeoutMs)]),
          maxOutboundStreams
        })
      } catch (err) {
        log.debug({ peer: peer.toString(), taskId: request.taskId, err }, 'task dial failed')
        throw failure('TASK_DIAL_FAILED', `cannot open a task stream to ${peer.toString()}`, err)
      }

      const messages = lpStream(stream, TASK_STREAM_LIMITS)
      let bytes
      try {
        await messages.write(encoded, { signal })
        await stream.close({ signal })
        bytes = await messages.read({ signal })
      } catch (err) {
        stream.abort(err instanceof Error ? err : new Error(String(err)))
        log.debug({ peer: peer.toString(), taskId: request.taskId, err }, 'task stream failed')
        if (FRAMING_ERRORS.has((err as Error).name)) throw failure('TASK_RESPONSE_MALFORMED', 'task response framing is invalid', err)
        throw failure('TASK_STREAM_FAILED', `task stream to ${peer.toString()} failed`, err)
      }

      let response: TaskResponse
      try {
        response = TaskResponse.decode(bytes.subarray())
      } catch (err) {
        throw failure('TASK_RESPONSE_MALFORMED', 'task response does not decode', err)
      }
      if (!isComplete(response)) throw failure('TASK_RESPONSE_MALFORMED', 'task response must hold exactly one of result or rejection', undefined)
      return response
    }
  }
}
