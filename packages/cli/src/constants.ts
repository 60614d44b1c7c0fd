/** Defaults of the `dria` command; `--help` shows each next to its flag. */

export const DEFAULT_URL = 'http://127.0.0.1:8080'
/** `-m auto`: pick models by node availability and what each prompt needs. */
export const AUTO_MODEL = 'auto'
export const DEFAULT_CONCURRENCY = 10
export const DEFAULT_RETRIES = 3
export const DEFAULT_MAX_TOKENS = 2048
export const DEFAULT_TEMPERATURE = 0.7
/** How often `--batch` polls the batch it waits for. */
export const DEFAULT_POLL_MS = 1_000

/** First retry delay of a line; doubled on each retry, with jitter, up to the cap. */
export const RETRY_BASE_MS = 500
export const RETRY_MAX_MS = 10_000
/**
 * How long the coordinator may stay unreachable (a restart, a network blip) before a line
 * fails with `cannot reach coordinator`: such waits do not use up `--retries`.
 */
export const RECONNECT_WINDOW_MS = 60_000
/** While it is unreachable, the coordinator is tried again at least this often. */
export const RECONNECT_POLL_MS = 1_000
/** How often the list of models (nodes, capabilities) is fetched again during a run. */
export const MODELS_REFRESH_MS = 5_000
/** Timeout of one real-time request (a long generation on a busy network). */
export const REQUEST_TIMEOUT_MS = 10 * 60_000

/** Attachments are sent inline; a task message on the network holds at most 4 MiB. */
export const MAX_ATTACHMENT_BYTES = 3 * 1024 * 1024

/** Exit codes (documented in the README). */
export const EXIT_OK = 0
export const EXIT_LINES_FAILED = 1
export const EXIT_USAGE = 2
export const EXIT_INTERRUPTED = 130
