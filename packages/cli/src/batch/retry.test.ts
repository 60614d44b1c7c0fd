import { describe, expect, it } from 'vitest'
import { backoffMs, retryAfterOf } from './retry.js'

describe('retry backoff', () => {
  it('grows exponentially from 0.5 s to 10 s with 50-100 % jitter', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map(n => backoffMs(n, undefined, () => 1))).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000])
    expect(backoffMs(3, undefined, () => 0)).toBe(1000)
    for (let i = 0; i < 100; i++) {
      const ms = backoffMs(2)
      expect(ms).toBeGreaterThanOrEqual(500)
      expect(ms).toBeLessThanOrEqual(1000)
    }
  })

  it('waits at least retry-after', () => {
    expect(backoffMs(1, 3, () => 1)).toBe(3000)
    expect(retryAfterOf(new Headers({ 'retry-after': '2' }))).toBe(2)
    expect(retryAfterOf(new Headers())).toBeUndefined()
    expect(retryAfterOf(new Headers({ 'retry-after': new Date(Date.now() + 60_000).toUTCString() }))).toBeGreaterThan(50)
    expect(retryAfterOf(new Headers({ 'retry-after': 'soon' }))).toBeUndefined()
  })
})
