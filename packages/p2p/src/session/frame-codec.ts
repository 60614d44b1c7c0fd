import { DriaError, Frame } from '@dria/protocol'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'

const FRAME_FIELDS = ['hello', 'task', 'ack', 'response', 'cancel', 'ping', 'pong', 'report'] as const
export type FrameKind = typeof FRAME_FIELDS[number]

/** The one field a frame carries; anything else is a protocol violation. */
export function frameKind (frame: Frame): FrameKind {
  let kind: FrameKind | undefined
  for (const field of FRAME_FIELDS) {
    if (frame[field] == null) continue
    if (kind !== undefined) throw new DriaError('SESSION_FRAME_INVALID', 'frame carries more than one message')
    kind = field
  }
  if (kind === undefined) throw new DriaError('SESSION_FRAME_INVALID', 'frame carries no message')
  return kind
}

/** Varint length prefix + encoded frame, appended to `out`. */
export function appendFrame (out: Uint8ArrayList, frame: Frame): void {
  const bytes = Frame.encode(frame)
  out.append(varint.encode(bytes.byteLength), bytes)
}

/**
 * Splits a byte stream into frames. Bytes arrive in arbitrary chunks; a frame is decoded once
 * all of it is there. A length above `maxFrameBytes` or bytes that do not decode throw
 * `SESSION_FRAME_INVALID`: the peer is not speaking the protocol, and the session must end.
 */
export class FrameDecoder {
  readonly #buffer = new Uint8ArrayList()
  readonly #maxFrameBytes: number

  constructor (maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes
  }

  /** Adds `chunk` and returns every frame it completed, in order. */
  push (chunk: Uint8Array | Uint8ArrayList): Frame[] {
    this.#buffer.append(chunk)
    const frames: Frame[] = []
    for (;;) {
      const next = this.#next()
      if (next === undefined) return frames
      frames.push(next)
    }
  }

  #next (): Frame | undefined {
    if (this.#buffer.byteLength === 0) return undefined
    let length: number
    try {
      length = varint.decode(this.#buffer)
    } catch (err) {
      // An incomplete varint is at most 9 bytes long; anything longer is garbage.
      if (this.#buffer.byteLength < 10) return undefined
      throw new DriaError('SESSION_FRAME_INVALID', 'frame length prefix is invalid', { cause: err })
    }
    if (length > this.#maxFrameBytes) {
      throw new DriaError('SESSION_FRAME_INVALID', `frame of ${length} bytes exceeds the limit of ${this.#maxFrameBytes}`)
    }
    const prefix = varint.encodingLength(length)
    if (this.#buffer.byteLength < prefix + length) return undefined
    const bytes = this.#buffer.subarray(prefix, prefix + length)
    this.#buffer.consume(prefix + length)
    let frame: Frame
    try {
      frame = Frame.decode(bytes)
    } catch (err) {
      throw new DriaError('SESSION_FRAME_INVALID', 'frame does not decode', { cause: err })
    }
    frameKind(frame)
    return frame
  }
}
