/** Protocol ids and limits shared by every peer of the network. */

export const TASK_PROTOCOL = '/dria/task/1.0.0'
export const DHT_PROTOCOL = '/dria/kad/1.0.0'

/** Prefix of DHT record keys: `/dria/<peerId>` holds a node's signed capacity record. */
export const RECORD_KEY_PREFIX = '/dria/'

/** Largest task request or response accepted on the wire (embeddings of long inputs fit). */
export const MAX_TASK_MESSAGE_BYTES = 4 * 1024 * 1024

export const PROTOCOL_VERSION = '0.1.0'
