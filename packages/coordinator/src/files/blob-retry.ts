import { setTimeout as sleep } from 'node:timers/promises'
import { isDriaError } from '@dria/protocol'
import { BLOB_RETRY_MAX_MS, BLOB_RETRY_MS } from './constants.js'

/**
 * Runs `step` until it no longer fails with `blob_store_unavailable`: an S3 outage delays a
 * batch instead of failing it. Waits 1 s, doubling up to 30 s; gives up (rethrows) once `signal`
 * aborts. Only for steps that are safe to repeat.
 */
export async function retryWhileUnavailable<T> (step: () => Promise<T>, options: { signal: AbortSignal, onRetry: (err: unknown) => void }): Promise<T> {
  for (let delay = BLOB_RETRY_MS; ; delay = Math.min(delay * 2, BLOB_RETRY_MAX_MS)) {
    try {
      return await step()
    } catch (err) {
      if (!isDriaError(err, 'blob_store_unavailable') || options.signal.aborted) throw err
      options.onRetry(err)
      await sleep(delay, undefined, { signal: options.signal }).catch(() => { throw err })
    }
  }
}
