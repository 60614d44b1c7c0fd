import { DriaError } from '@dria/protocol'
import { EngineErrorCode } from './errors.js'

/**
 * The calls an engine has in flight. `abortAll()` cancels them and later calls get a fresh
 * signal, so an engine stays usable after an abort; `drain()` lets `close()` wait for
 * cancelled calls to unwind before freeing what they use.
 */
export class EngineCalls {
  private controller = new AbortController()
  private readonly inFlight = new Set<Promise<unknown>>()

  /**
   * Runs one call with a signal that fires on `abortAll()` or on the caller's own signal.
   * Whatever the call fails with once its signal fired becomes `ENGINE_ABORTED`.
   */
  async run<T> (own: AbortSignal | undefined, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = own === undefined ? this.controller.signal : AbortSignal.any([this.controller.signal, own])
    const promise = (async () => {
      try {
        if (signal.aborted) throw signal.reason
        return await call(signal)
      } catch (err) {
        if (signal.aborted) {
          throw new DriaError(EngineErrorCode.ABORTED, 'inference call aborted', { retryable: true, cause: signal.reason })
        }
        throw err
      }
    })()
    this.inFlight.add(promise)
    try {
      return await promise
    } finally {
      this.inFlight.delete(promise)
    }
  }

  abortAll (): void {
    this.controller.abort(new Error('engine aborted'))
    this.controller = new AbortController()
  }

  async drain (): Promise<void> {
    await Promise.allSettled([...this.inFlight])
  }
}
