import type { Logger } from '@dria/protocol'
import { DEFAULT_LEASE_RENEW_MS } from '../constants.js'
import type { TaskStore } from './interfaces.js'

/** Renews this coordinator's task leases while it runs (shared store); `stop` ends it. */
export function startLeaseRenewal (components: { tasks: TaskStore, logger: Logger }, init: { intervalMs?: number } = {}): { stop: () => void } {
  const log = components.logger.child({ module: 'leases' })
  let renewing = false
  const timer = setInterval(() => {
    if (renewing) return
    renewing = true
    components.tasks.renewLeases()
      .catch(err => { log.warn({ err }, 'lease renewal failed') })
      .finally(() => { renewing = false })
  }, init.intervalMs ?? DEFAULT_LEASE_RENEW_MS)
  timer.unref()
  return { stop: () => { clearInterval(timer) } }
}
