/** Retries of a request Ollama answered 503 "server busy" (its queue was full). */
export const DEFAULT_RETRIES = 4

/** First backoff delay; each retry doubles it (250, 500, 1000, 2000 ms by default). */
export const DEFAULT_RETRY_BASE_MS = 250

/** How long `isOllamaReachable` waits for `/api/version`. */
export const DEFAULT_REACHABLE_TIMEOUT_MS = 1_000

/** Ollama treats `name` and `name:latest` as the same model; we list the short form. */
export const DEFAULT_TAG = ':latest'
