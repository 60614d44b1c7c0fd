/** Lines longer than this are rejected without being buffered further. */
export const MAX_LINE_BYTES = 1024 * 1024
/** OpenAI limits `custom_id` to 512 characters. */
export const MAX_CUSTOM_ID_LENGTH = 512
/** Validation errors kept in the summary; the rest are only counted. */
export const DEFAULT_MAX_ERRORS = 100
/** Tasks handed to `onTasks` per call. */
export const TASK_CHUNK_SIZE = 1_000
/** Bytes read from the file per read; lines are split out of each read synchronously. */
export const READ_CHUNK_BYTES = 256 * 1024
