/** Lines longer than this are rejected without being buffered further. */
export const MAX_LINE_BYTES = 1024 * 1024
/** OpenAI limits `custom_id` to 512 characters. */
export const MAX_CUSTOM_ID_LENGTH = 512
/** Deepest JSON nesting of a line; deeper requests are refused (deep values overflow stacks downstream). */
export const MAX_JSON_DEPTH = 64
/** Validation errors kept in the summary; the rest are only counted. */
export const DEFAULT_MAX_ERRORS = 100
/** Tasks handed to `onTasks` per call, at most. */
export const TASK_CHUNK_SIZE = 1_000
/**
 * Bytes of request bodies per `onTasks` call, at most. Chunks of large lines in flight survive
 * young-generation collections and grow the old one: 512 KiB instead of 4 MiB took a 2 GB
 * file of 2 KB lines from 206 to 162 MB peak.
 */
export const TASK_CHUNK_BYTES = 512 * 1024
/** Bytes read from the file per read; lines are split out of each read synchronously. */
export const READ_CHUNK_BYTES = 256 * 1024
/** Custom-id entries (24 bytes each) kept in memory before they are spread over files. */
export const ID_LEDGER_MEMORY_ENTRIES = 65_536
/** Files the custom-id entries of a large input are spread over (a power of two). */
export const ID_LEDGER_PARTITIONS = 64
/** Inputs at least this large are validated in a worker thread, beside the LevelDB writes. */
export const WORKER_MIN_BYTES = 8 * 1024 * 1024
/** Chunks a validation worker may hand over before the first of them is written. */
export const WORKER_AHEAD_CHUNKS = 3
/** Heap limits of a validation worker: its garbage is short-lived, small generations keep it small. */
export const WORKER_YOUNG_GENERATION_MB = 8
export const WORKER_OLD_GENERATION_MB = 96
