/** Defaults of the p2p package; every one can be overridden through the factory's `init`. */

export const DEFAULT_LISTEN_HOST = '127.0.0.1'

/** Connection manager: generous per-IP limits because test networks share 127.0.0.1. */
export const MAX_CONNECTIONS = 512
export const MAX_INCOMING_PENDING_CONNECTIONS = 64
export const INBOUND_CONNECTIONS_PER_HOST_PER_SECOND = 100
export const DIAL_TIMEOUT_MS = 10_000
/**
 * libp2p's connection monitor aborts a connection whose ping is not answered within this long
 * (its default is 5 s). A process that stalls or is starved of CPU for 5 s would otherwise
 * drop every connection at once; whether a node is alive enough to work is the coordinator
 * session's call (its pings and acks), so this only has to catch dead connections.
 */
export const CONNECTION_PING_TIMEOUT_MS = 30_000

/** yamux drops connections whose peers open more early streams than this (default 10). */
export const YAMUX_MAX_EARLY_STREAMS = 1_024

/**
 * Bootstrap peers are kept connected: after a disconnect (e.g. the coordinator restarting)
 * they are redialled this many times, the delay growing from the interval by the factor
 * (about an hour in all).
 */
export const BOOTSTRAP_RECONNECT_RETRIES = 20
export const BOOTSTRAP_RECONNECT_INTERVAL_MS = 500
export const BOOTSTRAP_RECONNECT_FACTOR = 1.5

/** How soon after start the bootstrap list is dialled. */
export const BOOTSTRAP_DIAL_DELAY_MS = 10

/** Upper bound of a DHT lookup (provide, find, put, get) made by discovery. */
export const DISCOVERY_QUERY_TIMEOUT_MS = 20_000
/** Providers returned by `findProviders` when the caller sets no limit (kad-dht's K). */
export const DISCOVERY_PROVIDER_LIMIT = 20

/** Session streams per connection, each direction (a coordinator needs one per node). */
export const SESSION_MAX_STREAMS = 8
/** How long each side has to send its hello once a session stream opens (dial included). */
export const SESSION_HELLO_TIMEOUT_MS = 10_000
