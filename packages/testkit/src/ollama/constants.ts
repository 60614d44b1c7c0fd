/** The Ollama release whose native API the test server speaks. */
export const OLLAMA_VERSION = '0.12.6'

/** Ollama's OLLAMA_MAX_QUEUE default: pending inference requests beyond it get 503. */
export const DEFAULT_MAX_QUEUE = 512

export const DEFAULT_HOST = '127.0.0.1'

/** Request bodies larger than this are refused (413). */
export const MAX_BODY_BYTES = 32 * 1024 * 1024

/** Ollama lists and reports models with their tag; `name` alone means `name:latest`. */
export const DEFAULT_TAG = ':latest'

/** Ollama's exact 503 text when its queue is full. */
export const BUSY_MESSAGE = 'server busy, please try again.  maximum pending requests exceeded'
