/** Protocol ids and limits shared by every peer of the network. */

/** Retired per-task protocol: a node still answers it, only to say which protocol it speaks now. */
export const LEGACY_TASK_PROTOCOL = '/dria/task/1.0.0'
/**
 * The task session: one long-lived stream per coordinator and node. The protocol id carries
 * the major version (incompatible peers fail negotiation); minor versions are agreed in Hello.
 */
export const SESSION_PROTOCOL = '/dria/session/2'
/** Session versions this build speaks, newest last. */
export const SESSION_VERSIONS: readonly string[] = ['2.0']
export const DHT_PROTOCOL = '/dria/kad/1.0.0'

/** Prefix of DHT record keys: `/dria/<peerId>` holds a node's signed capacity record. */
export const RECORD_KEY_PREFIX = '/dria/'

/** Largest task request or response accepted on the wire (embeddings of long inputs fit). */
export const MAX_TASK_MESSAGE_BYTES = 4 * 1024 * 1024
/** Largest session frame: a task message plus the frame's own few bytes. */
export const MAX_FRAME_BYTES = MAX_TASK_MESSAGE_BYTES + 1024

export const PROTOCOL_VERSION = '0.1.0'

/** Generation budget when a request sets no `max_tokens`: bounds every task's work (engines and deadlines). */
export const DEFAULT_MAX_TOKENS = 256
