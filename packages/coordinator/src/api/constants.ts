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
/** How long a pre-signed result URL (`result_url`, `error_url`) stays valid. */
export const DEFAULT_DOWNLOAD_URL_TTL_SECONDS = 3600
/** Longest path parameter routed (ids): more than a URL can carry (Node caps headers at 16 KiB). */
export const MAX_URL_PARAM_LENGTH = 65_536
/** OpenAI's page size limits: batches 1–100 (default 20), files 1–10,000 (default 10,000). */
export const MAX_BATCH_PAGE = 100
export const MAX_FILE_PAGE = 10_000
/** OpenAI's bounds on `expires_after.seconds` and `output_expires_after.seconds`: 1 hour to 30 days. */
export const MIN_EXPIRES_AFTER_SECONDS = 3600
export const MAX_EXPIRES_AFTER_SECONDS = 30 * 24 * 3600
