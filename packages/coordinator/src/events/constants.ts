/** Changes to one batch within this window go out as one `batch.updated` event. */
export const DEFAULT_COALESCE_MS = 250
/** `network.stats` (and `network.nodes` when it changed) go out this often while anyone listens. */
export const DEFAULT_NETWORK_INTERVAL_MS = 1_000
/** A comment line this often keeps idle streams (and proxies in between) open. */
export const DEFAULT_HEARTBEAT_MS = 15_000
/** Most event streams open at once; more get 503 `too_many_streams`. */
export const DEFAULT_MAX_STREAMS = 1_000
/** A client with this much unsent data queued is too slow and is disconnected. */
export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024
/** What EventSource clients wait before reconnecting. */
export const RECONNECT_MS = 2_000
