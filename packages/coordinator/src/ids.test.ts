import { describe, expect, it } from 'vitest'
import { newId } from './ids.js'

describe('newId', () => {
  it('sorts in creation order, even within one millisecond', () => {
    const ids = Array.from({ length: 2000 }, () => newId('batch_'))
    expect([...ids].sort()).toEqual(ids)
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids) expect(id).toMatch(/^batch_[0-9a-z]{9}[0-9A-Za-z]{13}$/)
  })

  it('keeps the time prefix readable', () => {
    const before = Date.now()
    const id = newId('file-')
    const time = parseInt(id.slice(5, 14), 36)
    expect(time).toBeGreaterThanOrEqual(before)
  })
})
