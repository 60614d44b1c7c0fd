import { isDriaError } from './errors.js'
import type { Logger } from './logger.js'

/** Calls `stop` on the first SIGINT/SIGTERM and exits when it settles; a second signal exits at once. */
export function stopOnSignals (stop: () => Promise<void>, log: Logger): void {
  let stopping = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(130)
    stopping = true
    log.info({ signal }, 'shutting down')
    stop().then(() => process.exit(0), (err) => {
      log.error({ err }, 'shutdown failed')
      process.exit(1)
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
}

/**
 * Starts a long-running service and keeps it until SIGINT/SIGTERM; if it cannot start, logs
 * `failure` and exits with code 1. A coded error is one line (its code and message, which
 * names the fix); anything else is logged whole, stack included.
 */
export async function runService (log: Logger, failure: string, start: () => Promise<{ stop: () => Promise<void> }>): Promise<void> {
  try {
    const service = await start()
    stopOnSignals(service.stop, log)
  } catch (err) {
    if (isDriaError(err)) log.fatal({ code: err.code, reason: err.message }, failure)
    else log.fatal({ err }, failure)
    process.exit(1)
  }
}
