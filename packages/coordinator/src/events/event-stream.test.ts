import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLogger, isDriaError } from '@dria/protocol'
import { readEventStream } from '@dria/testkit'
import type { StreamedEvent } from '@dria/testkit'
import type { BatchRecord } from '../store/index.js'
import { createEventBus } from './event-bus.js'
import type { EventBus } from './event-bus.js'
import { createEventStream } from './event-stream.js'
import type { EventStream } from './event-stream.js'

type Received = StreamedEvent

/** `next(type)` yields each event of a type once, in order, waiting for it when it has not come yet. */
function listen (url: string, headers: Record<string, string> = {}): { events: Received[], next: (type: string) => Promise<Received>, ended: Promise<void>, close: () => void } {
  const events: Received[] = []
  const waiters: Array<{ type: string, resolve: (event: Received) => void }> = []
  const taken = new Map<string, number>()
  const take = (type: string): Received | undefined => {
    const index = taken.get(type) ?? 0
    const event = events.filter(e => e.event === type)[index]
    if (event !== undefined) taken.set(type, index + 1)
    return event
  }
  const reader = readEventStream(url, {
    headers,
    onEvent (event) {
      events.push(event)
      const waiter = waiters.find(w => w.type === event.event)
      if (waiter !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(take(event.event)!)
      }
    }
  })
  return {
    events,
    next: async (type) => take(type) ?? await new Promise(resolve => { waiters.push({ type, resolve }) }),
    ended: reader.ended,
    close: reader.close
  }
}

function batch (id: string, owner: string, completed: number): BatchRecord {
  return {
    id, owner, object: 'batch', endpoint: '/v1/chat/completions', errors: null, input_file_id: 'file-1', completion_window: '24h',
    status: 'in_progress', output_file_id: null, error_file_id: null, created_at: 1, in_progress_at: 1, expires_at: 2,
    finalizing_at: null, completed_at: null, failed_at: null, expired_at: null, cancelling_at: null, cancelled_at: null,
    request_counts: { total: 10, completed, failed: 0 }, metadata: null, usage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
    webhookUrl: null, models: ['m'], maxLines: 100
  }
}

describe('event stream', () => {
  let server: Server
  let bus: EventBus
  let stream: EventStream
  let url: string

  beforeEach(async () => {
    bus = createEventBus()
    stream = createEventStream({
      bus,
      networkSnapshot: async () => ({ stats: { object: 'network.stats', nodes: { live: 1 } }, nodes: [{ peer_id: 'p1' }] }),
      logger: createLogger('test', 'silent'),
      metrics: null
    }, { coalesceMs: 10, networkIntervalMs: 20, maxStreams: 3 })
    stream.start()
    server = createServer((request, response) => {
      const owner = request.headers['x-owner']
      try {
        stream.attach(response, { owner: typeof owner === 'string' ? owner : undefined })
      } catch (err) {
        response.statusCode = 503
        response.end(isDriaError(err) ? err.code : 'error')
      }
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`
  })

  afterEach(async () => {
    stream.stop()
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })

  it('greets each client and sends the network view to everyone', async () => {
    const client = listen(url)
    const stats = await client.next('network.stats')
    expect(client.events[0].event).toBe('hello')
    expect(client.events[0].data.data).toEqual({ viewer: 'public' })
    expect(stats.data).toMatchObject({ type: 'network.stats', data: { object: 'network.stats', nodes: { live: 1 } } })
    expect(Math.abs(stats.data.at - Date.now())).toBeLessThan(60_000)
    expect((await client.next('network.nodes')).data.data).toEqual([{ peer_id: 'p1' }])
    // The node list went out once: it has not changed since.
    await client.next('network.stats')
    await client.next('network.stats')
    expect(client.events.filter(e => e.event === 'network.nodes')).toHaveLength(1)
    client.close()
  })

  it('sends batch events only to the key that owns the batch, merged per batch', async () => {
    const alice = listen(url, { 'x-owner': 'key_alice' })
    const anyone = listen(url)
    await alice.next('hello')
    await anyone.next('hello')
    const record = batch('batch_1', 'key_alice', 0)
    for (let i = 1; i <= 5; i++) {
      record.request_counts.completed = i
      bus.publish({ type: 'batch.updated', batch: record })
    }
    bus.publish({ type: 'batch.updated', batch: batch('batch_2', 'key_bob', 1) })
    bus.publish({ type: 'node.joined', peerId: 'p2' })
    const update = await alice.next('batch.updated')
    expect(update.data.data).toMatchObject({ id: 'batch_1', status: 'in_progress', request_counts: { total: 10, completed: 5, failed: 0 } })
    // Internal fields stay inside.
    expect(update.data.data.owner).toBeUndefined()
    expect(update.data.data.webhookUrl).toBeUndefined()
    expect((await anyone.next('node.joined')).data.data).toEqual({ peer_id: 'p2' })
    await alice.next('network.stats')
    await anyone.next('network.stats')
    expect(alice.events.filter(e => e.event === 'batch.updated').map(e => e.data.data.id)).toEqual(['batch_1'])
    expect(anyone.events.filter(e => e.event === 'batch.updated')).toEqual([])
    alice.close()
    anyone.close()
  })

  it('refuses streams beyond the limit and ends all of them on stop', async () => {
    const clients = [listen(url), listen(url), listen(url)]
    await Promise.all(clients.map(async c => await c.next('hello')))
    expect(stream.clients()).toBe(3)
    const refused = await fetch(url)
    expect(refused.status).toBe(503)
    expect(await refused.text()).toBe('too_many_streams')
    stream.stop()
    await Promise.all(clients.map(async c => { await c.ended }))
    expect(stream.clients()).toBe(0)
  })
})
