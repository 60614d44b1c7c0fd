/** Parts of a multipart S3 upload: 8 MiB each (S3's minimum is 5 MiB), at most 4 in memory at once. */
export const S3_PART_BYTES = 8 * 1024 * 1024
export const S3_PART_QUEUE = 4
/** An S3 server that does not accept a connection within this long counts as unreachable. */
export const S3_CONNECT_TIMEOUT_MS = 5_000
/** A request whose socket stays idle this long fails (a frozen server, not a slow body). */
export const S3_SOCKET_TIMEOUT_MS = 60_000
/**
 * In a shared store another coordinator may be between storing a body and writing its record,
 * or still writing an upload or scratch file: bodies no record names, and temp files, are a
 * crash's leftovers only once they are this old.
 */
export const SHARED_ORPHAN_GRACE_MS = 3600_000
/** How often a shared store is swept for such orphans (and abandoned direct uploads). */
export const BLOB_SWEEP_INTERVAL_MS = 3600_000
/** Where a client's direct (pre-signed) upload waits until `complete_upload` validates it. */
export const STAGED_PREFIX = 'staged-'
/** A batch step that found the blob store down waits this long before trying again, doubling up to the max. */
export const BLOB_RETRY_MS = 1_000
export const BLOB_RETRY_MAX_MS = 30_000
