import { describe, expect, it } from 'vitest'
import { FairQueue } from './fair-queue.js'
import type { WorkSource } from './fair-queue.js'
import type { Job } from './job.js'

function source (owner: string, jobs: number, weight = 1): WorkSource & { name: string } {
  let left = jobs
  const name = `${owner}/${jobs}`
  return {
    name,
    owner,
    weight,
    vt: 0,
    peek: () => (left > 0 ? ({ key: name } as unknown as Job) : undefined),
    take: () => { left--; return { key: name } as unknown as Job }
  }
}

function serve (fair: FairQueue, sources: Array<ReturnType<typeof source>>, count: number): string[] {
  const order: string[] = []
  for (let i = 0; i < count; i++) {
    const next = fair.pick(sources) as ReturnType<typeof source> | undefined
    if (next === undefined) break
    next.take()
    fair.charge(next, 1)
    order.push(next.name)
  }
  return order
}

describe('FairQueue', () => {
  it('a huge batch does not starve a small one of another owner', () => {
    const fair = new FairQueue()
    const huge = source('alice', 5_000_000)
    const small = source('bob', 3)
    const order = serve(fair, [huge, small], 6)
    expect(order.filter(n => n === small.name)).toHaveLength(3)
    expect(order.slice(0, 6).indexOf(small.name)).toBeLessThan(2)
  })

  it('shares by weight', () => {
    const fair = new FairQueue()
    const heavy = source('alice', 1000, 3)
    const light = source('bob', 1000, 1)
    const order = serve(fair, [heavy, light], 400)
    const share = order.filter(n => n === heavy.name).length / order.length
    expect(share).toBeGreaterThan(0.7)
    expect(share).toBeLessThan(0.8)
  })

  it('an owner coming back after idle time gets no burst of credit', () => {
    const fair = new FairQueue()
    const busy = source('alice', 1000)
    serve(fair, [busy], 100)
    const late = source('bob', 1000)
    fair.admit(late, [busy])
    const order = serve(fair, [busy, late], 100)
    const lateShare = order.filter(n => n === late.name).length / order.length
    expect(lateShare).toBeGreaterThan(0.4)
    expect(lateShare).toBeLessThan(0.6)
  })

  it('picks nothing when no source has a ready job', () => {
    expect(new FairQueue().pick([source('a', 0)])).toBeUndefined()
  })
})
