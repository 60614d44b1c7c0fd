import { describe, expect, it } from 'vitest'
import { EarnedCapacity } from './capacity.js'

describe('EarnedCapacity', () => {
  it('starts small and grows with answers up to what the node advertises', () => {
    const capacity = new EarnedCapacity(8)
    expect(capacity.limit).toBe(2)
    for (let i = 0; i < 3; i++) capacity.answered()
    expect(capacity.limit).toBe(5)
    for (let i = 0; i < 100; i++) capacity.answered()
    expect(capacity.limit).toBe(8)
  })

  it('halves on congestion, never below one, then grows slowly again', () => {
    const capacity = new EarnedCapacity(16, 16)
    capacity.congested()
    expect(capacity.limit).toBe(8)
    capacity.answered()
    expect(capacity.limit).toBe(8) // +1/8 per answer past the threshold
    for (let i = 0; i < 8; i++) capacity.answered()
    expect(capacity.limit).toBe(9)
    for (let i = 0; i < 10; i++) capacity.congested()
    expect(capacity.limit).toBe(1)
  })

  it('a claim of 1000 slots opens no window by itself', () => {
    const capacity = new EarnedCapacity(1000)
    expect(capacity.limit).toBe(2)
    capacity.congested()
    expect(capacity.limit).toBe(1)
  })

  it('can be capped below the advertised size', () => {
    const capacity = new EarnedCapacity(64, 64)
    capacity.cap(4)
    expect(capacity.limit).toBe(4)
    for (let i = 0; i < 10; i++) capacity.answered()
    expect(capacity.limit).toBe(4)
  })
})
