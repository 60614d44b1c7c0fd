import { describe, expect, it } from 'vitest'
import { RateWindow } from './rate-window.js'

describe('RateWindow', () => {
  it('averages what was added over the last seconds and forgets older seconds', () => {
    let now = 1_000_000
    const window = new RateWindow(10, () => now)
    window.add(50)
    now += 1000
    window.add(50)
    expect(window.perSecond()).toBe(10)
    now += 9000
    // The first second left the window, the second is still in it.
    expect(window.perSecond()).toBe(5)
    now += 1000
    expect(window.perSecond()).toBe(0)
  })

  it('starts over after a gap longer than the window', () => {
    let now = 0
    const window = new RateWindow(5, () => now)
    window.add(10)
    now += 60_000
    window.add(5)
    expect(window.perSecond()).toBe(1)
  })
})
