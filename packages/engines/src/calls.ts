import { setMaxListeners } from 'node:events'
import { DriaError } from '@dria/protocol'
import { EngineErrorCode } from './errors.js'

/**
 * The calls an engine has in flight. `abortAll()` cancels them and later calls get a fresh
 * signal, so an engine stays usable after an abort; `drain()` lets `close()` wait for
 * cancelled calls to unwind before freeing what they use.
 */
export class EngineCalls {
  private controller = EngineCalls.engineController()
  private readonly inFlight = new Set<Promise<unknown>>()

  /**
   * Runs one call with a signal that fires on `abortAll()` or on the caller's own signal.
   * Whatever the call fails with once its signal fired becomes `ENGINE_ABORTED`.
   */
  async run<T> (own: AbortSignal | undefined, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    // Listeners removed when the call ends, rather than AbortSignal.any() on the long-lived
    // engine signal, so millions of calls leave nothing behind.
    const engine = this.controller.signal
    const controller = new AbortController()
    const onAbort = (): void => { controller.abort(own?.aborted === true ? own.reason : engine.reason) }
    engine.addEventListener('abort', onAbort, { once: true })
    own?.addEventListener('abort', onAbort, { once: true })
    if (engine.aborted || own?.aborted === true) onAbort()
    const { signal } = controller
    const promise = (async () => {
      try {
        signal.throwIfAborted()
        return await call(signal)
      } catch (err) {
        if (signal.aborted) {
          throw new DriaError(EngineErrorCode.ABORTED, 'inference call aborted', { retryable: true, cause: signal.reason })
        }
        throw err
      } finally {
        engine.removeEventListener('abort', onAbort)
        own?.removeEventListener('abort', onAbort)
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
    this.controller = EngineCalls.engineController()
  }

  /** Every call in flight listens to it: no listener limit (and no warning past 10 calls). */
  private static engineController (): AbortController {
    const controller = new AbortController()
    setMaxListeners(0, controller.signal)
    return controller
  }

  async drain (): Promise<void> {
    await Promise.allSettled([...this.inFlight])
  }
}
