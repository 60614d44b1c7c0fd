import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '@dria/protocol'

export interface WebhookEvent {
  id: string
  object: 'event'
  type: string
  created_at: number
  data: Record<string, unknown>
}

export interface WebhookSenderInit {
  /** Attempts per event before giving up. Default 8. */
  maxAttempts?: number
  /** First retry delay; doubles each time. Default 1 s. */
  baseDelayMs?: number
  /** Per-attempt timeout. Default 10 s. */
  timeoutMs?: number
}

export interface WebhookSender {
  /** Delivers in the background; resolves `true` once the receiver answered 2xx. */
  send(url: string, event: WebhookEvent): Promise<boolean>
  stop(): void
}

/**
 * POSTs JSON events, retrying failures (network errors, 5xx, 429) with exponential backoff.
 * A 4xx other than 429 means the receiver refused the event: no retry.
 */
export function createWebhookSender (components: { logger: Logger }, init: WebhookSenderInit = {}): WebhookSender {
  const log = components.logger.child({ module: 'webhooks' })
  const maxAttempts = init.maxAttempts ?? 8
  const baseDelayMs = init.baseDelayMs ?? 1_000
  const timeoutMs = init.timeoutMs ?? 10_000
  const stopping = new AbortController()

  async function attempt (url: string, event: WebhookEvent): Promise<'delivered' | 'refused' | 'retry'> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'dria-coordinator', 'webhook-id': event.id },
        body: JSON.stringify(event),
        signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(timeoutMs)])
      })
      await response.body?.cancel()
      if (response.ok) return 'delivered'
      return response.status === 429 || response.status >= 500 ? 'retry' : 'refused'
    } catch {
      return 'retry'
    }
  }

  return {
    async send (url, event) {
      for (let n = 1; n <= maxAttempts && !stopping.signal.aborted; n++) {
        const outcome = await attempt(url, event)
        if (outcome === 'delivered') {
          log.info({ eventId: event.id, type: event.type, attempts: n }, 'webhook delivered')
          return true
        }
        if (outcome === 'refused') break
        await sleep(baseDelayMs * 2 ** (n - 1), undefined, { signal: stopping.signal, ref: false }).catch(() => {})
      }
      log.warn({ eventId: event.id, type: event.type }, 'webhook not delivered')
      return false
    },
    stop () {
      stopping.abort()
    }
  }
}
