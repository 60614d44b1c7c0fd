import { MAX_TASK_MESSAGE_BYTES } from '@dria/protocol'
import type { LengthPrefixedStreamOpts } from '@libp2p/utils'

/**
 * Reader limits for task messages. The read buffer must also hold the varint length prefix,
 * or a message of exactly the maximum size would overflow it.
 */
export const TASK_STREAM_LIMITS: Partial<LengthPrefixedStreamOpts> = {
  maxDataLength: MAX_TASK_MESSAGE_BYTES,
  maxBufferSize: MAX_TASK_MESSAGE_BYTES + 10
}

/** Errors that mean the peer sent bytes that are not a valid length-prefixed message. */
export const FRAMING_ERRORS = new Set([
  'InvalidMessageLengthError', 'InvalidDataLengthError', 'InvalidDataLengthLengthError', 'StreamBufferError'
])
