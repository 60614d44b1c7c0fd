import { describe, expect, it } from 'vitest'
import { WorkQueue } from './work-queue.js'
import type { Job } from './work-queue.js'

function job (log: string[], name: string, signal = new AbortController().signal): Job & { finish: () => void } {
  let finish: () => void = () => {}
  return {
    signal,
    finish: () => { finish() },
    run: async () => {
      log.push(`start ${name}`)
      await new Promise<void>(resolve => { finish = resolve })
      log.push(`end ${name}`)
    },
    dropped: (reason) => { log.push(`dropped ${name} ${reason}`) }
  }
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('WorkQueue', () => {
  it('runs up to slots, queues up to queueDepth, refuses beyond, and starts queued jobs in order', async () => {
    const log: string[] = []
    const queue = new WorkQueue({ slots: 1, queueDepth: 2 })
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(name => job(log, name))
    expect([queue.admit(a), queue.admit(b), queue.admit(c), queue.admit(d)]).toEqual([true, true, true, false])
    expect({ running: queue.running, waiting: queue.waiting, free: queue.free }).toEqual({ running: 1, waiting: 2, free: 0 })
    a.finish(); await tick()
    b.finish(); await tick()
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c'])
    expect(queue.free).toBe(2)
  })

  it('drops an aborted waiting job without running it, and frees its place', async () => {
    const log: string[] = []
    const queue = new WorkQueue({ slots: 1, queueDepth: 1 })
    const controller = new AbortController()
    const a = job(log, 'a')
    const b = job(log, 'b', controller.signal)
    queue.admit(a)
    queue.admit(b)
    controller.abort()
    expect(queue.free).toBe(1)
    a.finish(); await tick()
    expect(log).toEqual(['start a', 'dropped b aborted', 'end a'])
  })

  it('clearWaiting hands back queued jobs and lets running ones finish', async () => {
    const log: string[] = []
    const queue = new WorkQueue({ slots: 1, queueDepth: 2 })
    const [a, b, c] = ['a', 'b', 'c'].map(name => job(log, name))
    queue.admit(a); queue.admit(b); queue.admit(c)
    queue.clearWaiting()
    expect(queue.waiting).toBe(0)
    a.finish(); await tick()
    expect(log).toEqual(['start a', 'dropped b cleared', 'dropped c cleared', 'end a'])
  })

  it('drained resolves when the last job finishes', async () => {
    const queue = new WorkQueue({ slots: 1, queueDepth: 1 })
    const a = job([], 'a')
    queue.admit(a)
    let done = false
    const drained = queue.drained().then(() => { done = true })
    await tick()
    expect(done).toBe(false)
    a.finish()
    await drained
    expect(done).toBe(true)
  })
})
