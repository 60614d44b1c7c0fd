import { createHmac } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { LookupFunction } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '@dria/protocol'
import { isDriaError } from '@dria/protocol'
import { resolveWebhookTarget } from './target.js'
import type { WebhookTarget } from './target.js'

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
  /** Allows `http://` URLs and loopback/private targets (tests). Default false. */
  allowInsecure?: boolean
}

export interface WebhookSender {
  /** Refuses (`invalid_webhook_url`) a URL events could not be sent to: checked when a batch is created. */
  check(url: string): Promise<void>
  /** Delivers in the background, signed with `owner`'s secret; resolves `true` once the receiver answered 2xx. */
  send(url: string, owner: string, event: WebhookEvent): Promise<boolean>
  stop(): void
}

/**
 * Standard Webhooks signature: `v1,` + base64 HMAC-SHA256 over `id.timestamp.body`, keyed by
 * the base64 part of the `whsec_` secret.
 */
export function signWebhook (secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`
}

type Outcome = 'delivered' | 'refused' | 'retry'

/** One POST to the address already checked, never following redirects. */
async function post (target: WebhookTarget, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<number> {
  // The connection goes to the checked address whatever DNS says now (no rebinding).
  const pinned: LookupFunction = (_host, options, callback) => {
    if ((options as { all?: boolean }).all === true) callback(null, [{ address: target.address, family: target.family }])
    else callback(null, target.address, target.family)
  }
  const request = target.url.protocol === 'https:' ? httpsRequest : httpRequest
  return await new Promise<number>((resolve, reject) => {
    const req = request(target.url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup: pinned, signal }, res => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode ?? 0) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * POSTs signed JSON events, retrying failures (network errors, 5xx, 429) with exponential
 * backoff. A 4xx other than 429, a redirect, or a URL that now resolves to a private address
 * means the event is refused: no retry.
 */
export function createWebhookSender (components: { logger: Logger, secretOf?: (owner: string) => string }, init: WebhookSenderInit = {}): WebhookSender {
  const log = components.logger.child({ module: 'webhooks' })
  const maxAttempts = init.maxAttempts ?? 8
  const baseDelayMs = init.baseDelayMs ?? 1_000
  const timeoutMs = init.timeoutMs ?? 10_000
  const policy = { allowInsecure: init.allowInsecure ?? false }
  const stopping = new AbortController()

  async function attempt (url: string, owner: string, event: WebhookEvent): Promise<Outcome> {
    let target: WebhookTarget
    try {
      // Resolved again for every attempt: the name may point elsewhere by now.
      target = await resolveWebhookTarget(url, policy)
    } catch (err) {
      return isDriaError(err) && !err.retryable ? 'refused' : 'retry'
    }
    const body = JSON.stringify(event)
    const timestamp = Math.floor(Date.now() / 1000)
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'dria-coordinator',
      'webhook-id': event.id,
      'webhook-timestamp': String(timestamp)
    }
    if (components.secretOf !== undefined) headers['webhook-signature'] = signWebhook(components.secretOf(owner), event.id, timestamp, body)
    try {
      const status = await post(target, headers, body, AbortSignal.any([stopping.signal, AbortSignal.timeout(timeoutMs)]))
      if (status >= 200 && status < 300) return 'delivered'
      return status === 429 || status >= 500 ? 'retry' : 'refused'
    } catch {
      return 'retry'
    }
  }

  return {
    async check (url) {
      await resolveWebhookTarget(url, policy)
    },
    async send (url, owner, event) {
      for (let n = 1; n <= maxAttempts && !stopping.signal.aborted; n++) {
        const outcome = await attempt(url, owner, event)
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
