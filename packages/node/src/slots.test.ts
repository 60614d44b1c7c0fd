import { describe, expect, it } from 'vitest'
import { Slots } from './slots.js'

describe('Slots', () => {
  it('refuses beyond total and frees on release', () => {
    const slots = new Slots(2)
    const a = slots.tryAcquire()
    const b = slots.tryAcquire()
    expect(a).toBeTypeOf('function')
    expect(b).toBeTypeOf('function')
    expect(slots.tryAcquire()).toBeUndefined()
    expect(slots.free).toBe(0)
    a?.()
    a?.() // releasing twice must not free two slots
    expect(slots.free).toBe(1)
    expect(slots.tryAcquire()).toBeTypeOf('function')
  })

  it('drained resolves when the last task finishes', async () => {
    const slots = new Slots(1)
    const release = slots.tryAcquire()
    let done = false
    const drained = slots.drained().then(() => { done = true })
    await Promise.resolve()
    expect(done).toBe(false)
    release?.()
    await drained
    expect(done).toBe(true)
  })
})
