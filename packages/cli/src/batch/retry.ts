import { RETRY_BASE_MS, RETRY_MAX_MS } from '../constants.js'

/**
 * The wait before retry number `retry` (1-based): exponential from 0.5 s up to 10 s, with
 * jitter (50–100 % of it) so parallel lines do not retry in step; at least `retry-after`.
 */
export function backoffMs (retry: number, retryAfterSeconds?: number, random: () => number = Math.random): number {
  const exponential = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, retry - 1))
  return Math.max(exponential * (0.5 + random() * 0.5), (retryAfterSeconds ?? 0) * 1000)
}

/** `retry-after` in seconds (a number or an HTTP date), when present. */
export function retryAfterOf (headers: Headers | undefined): number | undefined {
  const value = headers?.get('retry-after')
  if (value === null || value === undefined) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000)
}
