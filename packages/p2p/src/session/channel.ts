import { DriaError, MAX_FRAME_BYTES } from '@dria/protocol'
import { Uint8ArrayList } from 'uint8arraylist'
import { FrameDecoder, appendFrame } from './frame-codec.js'
import type { Frame } from '@dria/protocol'
import type { PeerId, Stream } from '@libp2p/interface'

export interface FrameChannel {
  readonly remotePeer: PeerId
  /** False once the stream ended, for whatever reason. */
  readonly open: boolean
  /**
   * Queues a frame. Frames queued in the same turn of the event loop leave in one write: one
   * yamux frame and one encryption instead of one per message.
   */
  send(frame: Frame): void
  /** Receives every frame, in order. Set once, before the first frame can arrive. */
  onFrame(handler: (frame: Frame) => void): void
  /** Called once when the channel ends: `err` unless it was closed on purpose by this side. */
  onClose(handler: (err?: Error) => void): void
  /** Ends the channel: `err` resets the stream, none closes it gracefully. */
  close(err?: Error): void
}

/**
 * Length-prefixed protobuf frames over one libp2p stream, both ways, for as long as the stream
 * lives. Reading is event-driven (no per-message promises); writes are coalesced per tick and
 * respect the stream's back-pressure.
 */
export function createFrameChannel (stream: Stream, remotePeer: PeerId, init: { maxFrameBytes?: number } = {}): FrameChannel {
  const decoder = new FrameDecoder(init.maxFrameBytes ?? MAX_FRAME_BYTES)
  let outbox = new Uint8ArrayList()
  let flushScheduled = false
  let draining = false
  let open = true
  let frameHandler: (frame: Frame) => void = () => {}
  const closeHandlers: Array<(err?: Error) => void> = []
  // Frames that arrive before a handler is set (the peer may answer at once) wait here.
  let early: Frame[] | undefined = []

  // A long-lived session is kept alive by its pings; the stream's own idle timer must not end it.
  stream.inactivityTimeout = 0

  function end (err?: Error): void {
    if (!open) return
    open = false
    outbox = new Uint8ArrayList()
    stream.removeEventListener('message', onMessage)
    closeHandlers.splice(0).forEach(handler => { handler(err) })
  }

  function flush (): void {
    flushScheduled = false
    if (!open || draining || outbox.byteLength === 0) return
    const data = outbox
    outbox = new Uint8ArrayList()
    try {
      if (stream.send(data)) return
    } catch (err) {
      fail(err)
      return
    }
    draining = true
    stream.onDrain().then(() => {
      draining = false
      flush()
    }, err => { fail(err) })
  }

  function fail (err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err))
    if (open) stream.abort(error)
    end(error)
  }

  const onMessage = (event: { data: Uint8Array | Uint8ArrayList }): void => {
    let frames: Frame[]
    try {
      frames = decoder.push(event.data)
    } catch (err) {
      fail(err)
      return
    }
    for (const frame of frames) {
      if (!open) return
      if (early !== undefined) early.push(frame)
      else frameHandler(frame)
    }
  }
  stream.addEventListener('message', onMessage)
  stream.addEventListener('close', (event) => {
    end(event.error ?? (open ? new DriaError('SESSION_CLOSED', 'the peer closed the session') : undefined))
  }, { once: true })
  stream.addEventListener('remoteCloseWrite', () => {
    if (open) fail(new DriaError('SESSION_CLOSED', 'the peer closed the session'))
  }, { once: true })

  return {
    remotePeer,
    get open () { return open },
    send (frame) {
      if (!open) return
      appendFrame(outbox, frame)
      if (flushScheduled) return
      flushScheduled = true
      setImmediate(flush)
    },
    onFrame (handler) {
      frameHandler = handler
      const queued = early ?? []
      early = undefined
      for (const frame of queued) {
        if (!open) return
        handler(frame)
      }
    },
    onClose (handler) {
      if (!open) handler(new DriaError('SESSION_CLOSED', 'the session is closed'))
      else closeHandlers.push(handler)
    },
    close (err) {
      if (!open) return
      if (err !== undefined) {
        fail(err)
        return
      }
      // Deliver what is queued, then close gracefully.
      flush()
      end()
      stream.close().catch(closeErr => { stream.abort(closeErr instanceof Error ? closeErr : new Error(String(closeErr))) })
    }
  }
}
