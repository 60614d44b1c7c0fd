import { Frame, LEGACY_TASK_PROTOCOL, SESSION_PROTOCOL, TaskKind, createLogger } from '@dria/protocol'
import { Uint8ArrayList } from 'uint8arraylist'
import { afterEach, describe, expect, it } from 'vitest'
import { FrameDecoder, appendFrame, createSessionServer, negotiateVersion, openSession } from '../src/index.js'
import { startPeer, stopAll, waitFor } from './network.js'
import type { Session, SessionServer } from '../src/index.js'
import type { TestPeer } from './network.js'
import type { Hello } from '@dria/protocol'

const logger = createLogger('test')
const hello = (versions = ['2.0'], agent = 'test/1'): Hello => ({ versions, agent, slots: 2, queueDepth: 2, engine: 'llamacpp', models: [] })

function task (taskId: string): Frame {
  return { task: { taskId, attempt: 1, kind: TaskKind.TASK_KIND_COMPLETION, model: 'm', body: new TextEncoder().encode('{}'), timeoutMs: 0 } }
}

describe('negotiateVersion', () => {
  it('picks the highest shared major with the lower of the two minors', () => {
    expect(negotiateVersion(['2.0'], ['2.0'])).toBe('2.0')
    expect(negotiateVersion(['2.3'], ['2.1'])).toBe('2.1')
    expect(negotiateVersion(['2.1', '3.0'], ['3.2', '2.4'])).toBe('3.0')
    expect(negotiateVersion(['2.0'], ['1.9', '3.0'])).toBeUndefined()
    expect(negotiateVersion(['2.0'], ['two', ''])).toBeUndefined()
  })
})

describe('FrameDecoder', () => {
  it('decodes frames split across arbitrary chunks', () => {
    const out = new Uint8ArrayList()
    for (let i = 0; i < 5; i++) appendFrame(out, task(`t${i}`))
    const bytes = out.subarray()
    const decoder = new FrameDecoder(1024)
    const seen: string[] = []
    for (let i = 0; i < bytes.length; i += 3) {
      for (const frame of decoder.push(bytes.subarray(i, i + 3))) seen.push(frame.task!.taskId)
    }
    expect(seen).toEqual(['t0', 't1', 't2', 't3', 't4'])
  })

  it('refuses oversized, undecodable and ambiguous frames with SESSION_FRAME_INVALID', () => {
    const big = new Uint8ArrayList()
    appendFrame(big, task('x'.repeat(200)))
    expect(() => new FrameDecoder(100).push(big)).toThrow(expect.objectContaining({ code: 'SESSION_FRAME_INVALID' }))
    expect(() => new FrameDecoder(100).push(Uint8Array.from([3, 0xff, 0xff, 0xff]))).toThrow(expect.objectContaining({ code: 'SESSION_FRAME_INVALID' }))
    expect(() => new FrameDecoder(100).push(new Uint8Array(12).fill(0xff))).toThrow(expect.objectContaining({ code: 'SESSION_FRAME_INVALID' }))
    const two = new Uint8ArrayList()
    appendFrame(two, { ping: { nonce: 1 }, pong: { nonce: 1 } })
    expect(() => new FrameDecoder(100).push(two)).toThrow(expect.objectContaining({ code: 'SESSION_FRAME_INVALID' }))
    const none = new Uint8ArrayList()
    appendFrame(none, {})
    expect(() => new FrameDecoder(100).push(none)).toThrow(expect.objectContaining({ code: 'SESSION_FRAME_INVALID' }))
  })
})

describe('session protocol', () => {
  let peers: TestPeer[] = []
  let servers: SessionServer[] = []

  afterEach(async () => {
    await Promise.all(servers.map(async s => { await s.stop() }))
    await stopAll(peers)
    peers = []
    servers = []
  })

  async function setup (serverHello: Hello = hello()): Promise<{ client: TestPeer, server: TestPeer, accepted: Session[] }> {
    const [server, client] = [await startPeer(), await startPeer()]
    peers.push(server, client)
    const accepted: Session[] = []
    const sessions = createSessionServer({ host: server.host, logger }, { hello: () => serverHello, onSession: s => accepted.push(s) })
    await sessions.start()
    servers.push(sessions)
    await client.host.peerStore.merge(server.host.peerId, { multiaddrs: server.host.getMultiaddrs() })
    return { client, server, accepted }
  }

  it('exchanges hellos, agrees on a version and carries frames both ways in order', async () => {
    const { client, server, accepted } = await setup(hello(['2.1'], 'node/1'))
    const session = await openSession(client.host, server.host.peerId, { hello: hello(['2.0'], 'coordinator/1') })
    expect(session.remote.agent).toBe('node/1')
    expect(session.remote.slots).toBe(2)
    expect(session.version).toBe('2.0')
    await waitFor(() => accepted.length === 1, 'server session')
    expect(accepted[0].remote.agent).toBe('coordinator/1')
    expect(accepted[0].version).toBe('2.0')

    const received: string[] = []
    accepted[0].channel.onFrame(frame => {
      received.push(frame.task!.taskId)
      accepted[0].channel.send({ pong: { nonce: received.length } })
    })
    const pongs: number[] = []
    session.channel.onFrame(frame => pongs.push(frame.pong!.nonce))
    // Queued in one tick: they leave in one write and arrive in order.
    for (let i = 0; i < 500; i++) session.channel.send(task(`t${i}`))
    await waitFor(() => pongs.length === 500, 'every answer')
    expect(received).toEqual(Array.from({ length: 500 }, (_, i) => `t${i}`))
    expect(pongs).toEqual(Array.from({ length: 500 }, (_, i) => i + 1))
  })

  it('tells both sides when one closes or resets the session', async () => {
    const { client, server, accepted } = await setup()
    const session = await openSession(client.host, server.host.peerId, { hello: hello() })
    await waitFor(() => accepted.length === 1, 'server session')
    const closed: Array<Error | undefined> = []
    accepted[0].channel.onClose(err => closed.push(err))
    session.channel.close(new Error('going away'))
    await waitFor(() => closed.length === 1, 'close seen by the server')
    expect(accepted[0].channel.open).toBe(false)
    expect(session.channel.open).toBe(false)
  })

  it('refuses a peer with no common version, saying which versions each side speaks', async () => {
    const { client, server, accepted } = await setup(hello(['3.0']))
    await expect(openSession(client.host, server.host.peerId, { hello: hello(['2.0']) }))
      .rejects.toMatchObject({ code: 'SESSION_VERSION_MISMATCH', message: expect.stringContaining('3.0') })
    expect(accepted).toHaveLength(0)
  })

  it('names the protocols a peer speaks when it has no session handler', async () => {
    const [server, client] = [await startPeer(), await startPeer()]
    peers.push(server, client)
    await server.host.handle(LEGACY_TASK_PROTOCOL, stream => { stream.abort(new Error('x')) })
    await client.host.dial(server.host.getMultiaddrs()[0])
    await waitFor(() => client.host.getConnections(server.host.peerId).length > 0, 'connection')
    await new Promise(resolve => setTimeout(resolve, 200)) // identify
    const err = await openSession(client.host, server.host.peerId, { hello: hello() }).catch(e => e)
    expect(err).toMatchObject({ code: 'SESSION_PROTOCOL_MISMATCH' })
    expect(err.message).toContain(LEGACY_TASK_PROTOCOL)
    expect(err.message).toContain(SESSION_PROTOCOL)
  })

  it('gives up on a peer that opens the stream but never says hello', async () => {
    const [server, client] = [await startPeer(), await startPeer()]
    peers.push(server, client)
    await server.host.handle(SESSION_PROTOCOL, () => {}) // accepts and stays silent
    await client.host.peerStore.merge(server.host.peerId, { multiaddrs: server.host.getMultiaddrs() })
    await expect(openSession(client.host, server.host.peerId, { hello: hello(), timeoutMs: 500 }))
      .rejects.toMatchObject({ code: 'SESSION_HELLO_TIMEOUT', retryable: true })
  })

  it('ends a session whose peer sends bytes that are not frames', async () => {
    const { client, server, accepted } = await setup()
    const session = await openSession(client.host, server.host.peerId, { hello: hello() })
    await waitFor(() => accepted.length === 1, 'server session')
    const closed: Array<Error | undefined> = []
    accepted[0].channel.onClose(err => closed.push(err))
    // Reach under the channel: the raw stream of the client side.
    const stream = client.host.getConnections(server.host.peerId)[0].streams.find(s => s.protocol === SESSION_PROTOCOL)!
    stream.send(new Uint8Array(16).fill(0xff))
    await waitFor(() => closed.length === 1, 'server ended the session')
    expect(closed[0]).toMatchObject({ code: 'SESSION_FRAME_INVALID' })
    await waitFor(() => !session.channel.open, 'client saw the reset')
  })
})
