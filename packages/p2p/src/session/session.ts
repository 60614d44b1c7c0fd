import { DriaError, LEGACY_TASK_PROTOCOL, SESSION_PROTOCOL, SESSION_VERSIONS } from '@dria/protocol'
import { SESSION_HELLO_TIMEOUT_MS, SESSION_MAX_STREAMS } from '../constants.js'
import { createFrameChannel } from './channel.js'
import type { FrameChannel } from './channel.js'
import type { DriaHost } from '../host/index.js'
import type { Hello, Logger } from '@dria/protocol'
import type { Connection, PeerId, Stream } from '@libp2p/interface'

/** A session after both hellos: the channel, what the peer said about itself, the agreed version. */
export interface Session {
  channel: FrameChannel
  remote: Hello
  version: string
}

/**
 * The highest version both sides speak: same major, the smaller of the two minors (a newer
 * minor only adds what an older peer may ignore). Undefined when no major is shared.
 */
export function negotiateVersion (local: readonly string[], remote: readonly string[]): string | undefined {
  const parse = (v: string): [number, number] | undefined => {
    const match = /^(\d+)\.(\d+)$/.exec(v)
    return match === null ? undefined : [Number(match[1]), Number(match[2])]
  }
  let best: [number, number] | undefined
  for (const mine of local.map(parse)) {
    for (const theirs of remote.map(parse)) {
      if (mine === undefined || theirs === undefined || mine[0] !== theirs[0]) continue
      const common: [number, number] = [mine[0], Math.min(mine[1], theirs[1])]
      if (best === undefined || common[0] > best[0] || (common[0] === best[0] && common[1] > best[1])) best = common
    }
  }
  return best === undefined ? undefined : `${best[0]}.${best[1]}`
}

function versionMismatch (remote: Hello): DriaError {
  return new DriaError('SESSION_VERSION_MISMATCH',
    `peer speaks session versions ${remote.versions.join(', ') || 'none'}; this build speaks ${SESSION_VERSIONS.join(', ')}`)
}

/** The first frame of a session must be the peer's hello, within the timeout. */
async function readHello (channel: FrameChannel, timeoutMs: number, signal?: AbortSignal): Promise<Hello> {
  return await new Promise<Hello>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    const fail = (err: Error): void => {
      cleanup()
      channel.close(err)
      reject(err)
    }
    const onAbort = (): void => { fail(signal?.reason instanceof Error ? signal.reason : new Error('aborted')) }
    const timer = setTimeout(() => { fail(new DriaError('SESSION_HELLO_TIMEOUT', `no hello within ${timeoutMs} ms`, { retryable: true })) }, timeoutMs)
    signal?.addEventListener('abort', onAbort, { once: true })
    channel.onClose(err => {
      cleanup()
      reject(err ?? new DriaError('SESSION_CLOSED', 'session closed during the handshake', { retryable: true }))
    })
    channel.onFrame(frame => {
      if (frame.hello == null) {
        fail(new DriaError('SESSION_FRAME_INVALID', 'the first frame of a session must be a hello'))
        return
      }
      cleanup()
      resolve(frame.hello)
    })
  })
}

export interface OpenSessionOptions {
  /** What this side says about itself. */
  hello: Hello
  signal?: AbortSignal
  /** Upper bound of dial + negotiation + the peer's hello. Default 10 s. */
  timeoutMs?: number
}

/**
 * Opens a session to `peer` (dialling it if needed). Throws `SESSION_PROTOCOL_MISMATCH` when
 * the peer does not speak the session protocol (its known protocols are in the message),
 * `SESSION_VERSION_MISMATCH`, `SESSION_HELLO_TIMEOUT`, or a retryable `SESSION_DIAL_FAILED`.
 */
export async function openSession (host: DriaHost, peer: PeerId, options: OpenSessionOptions): Promise<Session> {
  const timeoutMs = options.timeoutMs ?? SESSION_HELLO_TIMEOUT_MS
  const deadline = AbortSignal.timeout(timeoutMs)
  const signal = options.signal == null ? deadline : AbortSignal.any([options.signal, deadline])
  let stream: Stream
  try {
    stream = await host.dialProtocol(peer, SESSION_PROTOCOL, { signal, maxOutboundStreams: SESSION_MAX_STREAMS })
  } catch (err) {
    if (options.signal?.aborted === true) throw options.signal.reason
    if ((err as Error).name === 'UnsupportedProtocolError') {
      const protocols = await host.peerStore.get(peer).then(p => p.protocols.filter(id => id.startsWith('/dria/')), () => [])
      throw new DriaError('SESSION_PROTOCOL_MISMATCH',
        `peer speaks ${protocols.join(', ') || 'no Dria protocol'}; this build speaks ${SESSION_PROTOCOL}`, { cause: err })
    }
    throw new DriaError('SESSION_DIAL_FAILED', `cannot open a session to ${peer.toString()}`, { retryable: true, cause: err })
  }
  const channel = createFrameChannel(stream, peer)
  channel.send({ hello: options.hello })
  const remote = await readHello(channel, timeoutMs, options.signal)
  const version = negotiateVersion(options.hello.versions, remote.versions)
  if (version === undefined) {
    const err = versionMismatch(remote)
    channel.close(err)
    throw err
  }
  return { channel, remote, version }
}

export interface SessionServerComponents {
  host: DriaHost
  logger: Logger
}

export interface SessionServerInit {
  /** What this side says about itself, asked for each new session. */
  hello: () => Hello
  /** Receives each session once both hellos are exchanged. */
  onSession: (session: Session) => void
  /** How long the opener has to send its hello. Default 10 s. */
  helloTimeoutMs?: number
}

export interface SessionServer {
  start(): Promise<void>
  /** Stops accepting sessions and closes the open ones. */
  stop(): Promise<void>
}

/**
 * Accepts sessions on SESSION_PROTOCOL. Peers that still dial the retired per-task protocol
 * are told (in this log) which protocol to speak instead, and their stream is reset.
 */
export function createSessionServer (components: SessionServerComponents, init: SessionServerInit): SessionServer {
  const { host } = components
  const log = components.logger.child({ module: 'session-server' })
  const helloTimeoutMs = init.helloTimeoutMs ?? SESSION_HELLO_TIMEOUT_MS
  const open = new Set<FrameChannel>()

  async function accept (stream: Stream, connection: Connection): Promise<void> {
    const channel = createFrameChannel(stream, connection.remotePeer)
    open.add(channel)
    channel.onClose(() => open.delete(channel))
    let remote: Hello
    try {
      remote = await readHello(channel, helloTimeoutMs)
    } catch (err) {
      log.debug({ peer: connection.remotePeer.toString(), err }, 'session handshake failed')
      return
    }
    const hello = init.hello()
    channel.send({ hello })
    const version = negotiateVersion(hello.versions, remote.versions)
    if (version === undefined) {
      log.warn({ peer: connection.remotePeer.toString(), theirs: remote.versions, ours: hello.versions, agent: remote.agent }, 'session refused: no common protocol version')
      // Closed gracefully, after our hello: the opener learns which versions we speak.
      channel.close()
      return
    }
    init.onSession({ channel, remote, version })
  }

  return {
    async start () {
      await host.handle(SESSION_PROTOCOL, (stream, connection) => { void accept(stream, connection) }, {
        maxInboundStreams: SESSION_MAX_STREAMS,
        maxOutboundStreams: SESSION_MAX_STREAMS
      })
      await host.handle(LEGACY_TASK_PROTOCOL, (stream, connection) => {
        log.warn({ peer: connection.remotePeer.toString(), theirs: LEGACY_TASK_PROTOCOL, ours: SESSION_PROTOCOL }, 'peer speaks a retired task protocol: upgrade it')
        stream.abort(new DriaError('SESSION_PROTOCOL_MISMATCH', `this node speaks ${SESSION_PROTOCOL}`))
      })
    },
    async stop () {
      await host.unhandle([SESSION_PROTOCOL, LEGACY_TASK_PROTOCOL])
      for (const channel of open) channel.close()
    }
  }
}
