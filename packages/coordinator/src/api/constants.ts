/** The network history keeps one point per interval... */
export const DEFAULT_HISTORY_INTERVAL_MS = 5_000
/** ...this many of them: 30 minutes at the default interval. */
export const DEFAULT_HISTORY_POINTS = 360
/** Measured rates (tokens/s, tasks/s) average over this many seconds. */
export const DEFAULT_RATE_WINDOW_SECONDS = 60
/** Nodes whose tallies are kept; past it, those of disconnected nodes are dropped. */
export const MAX_TRACKED_PEERS = 10_000
/** `retry-after` of a real-time request no node can serve now (nodes join and free slots within seconds). */
export const REALTIME_RETRY_AFTER_SECONDS = 2
/** How often a waiting real-time request checks that some node still serves its model. */
export const MODEL_WATCH_MS = 500
