import { parseBlobStoreSpec } from './blob-store.js'
import type { BlobStore } from './blob-store.js'
import { createDirBlobStore } from './dir-blob-store.js'
import { createS3BlobStore } from './s3-blob-store.js'

export interface OpenBlobStoreInit {
  /** `dir:<path>` or `s3://bucket/prefix`. Default: the coordinator's own `<data-dir>/files`. */
  blobStore?: string
  /** S3-compatible endpoint for `s3://` stores. Default: AWS S3. */
  s3Endpoint?: string
}

/** The store `--blob-store` names, checked to be usable (a coded error otherwise). */
export async function openBlobStore (components: { defaultDir: string, /** The state is shared with other coordinators (so is the default dir). */ shared?: boolean }, init: OpenBlobStoreInit = {}): Promise<BlobStore> {
  const spec = init.blobStore === undefined ? undefined : parseBlobStoreSpec(init.blobStore)
  const blobs = spec === undefined
    ? createDirBlobStore(components.defaultDir, { shared: components.shared })
    : spec.kind === 'dir'
      ? createDirBlobStore(spec.path, { shared: true })
      : await createS3BlobStore({ bucket: spec.bucket, prefix: spec.prefix, endpoint: init.s3Endpoint })
  try {
    await blobs.start()
  } catch (err) {
    blobs.stop()
    throw err
  }
  return blobs
}
