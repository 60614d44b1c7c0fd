import { DriaError, MAX_TASK_MESSAGE_BYTES, RejectionCode, TASK_PROTOCOL, TaskKind, TaskRequest, createLogger } from '@dria/protocol'
import { lpStream } from '@libp2p/utils'
import { afterEach, describe, expect, it } from 'vitest'
import { createTaskClient, createTaskServer } from '../src/index.js'
import { startPeer, stopAll, waitFor } from './network.js'
import type { TestPeer } from './network.js'
import type { TaskClient, TaskContext, TaskHandler, TaskServer } from '../src/index.js'
import type { TaskResponse } from '@dria/protocol'
import type { Multiaddr } from '@multiformats/multiaddr'

const logger = createLogger('test')
const encoder = new TextEncoder()

function request (taskId: string, body = '{"prompt":"Once upon a time"}'): TaskRequest {
  return { taskId, attempt: 1, kind: TaskKind.TASK_KIND_COMPLETION, model: 'stories260K', body: encoder.encode(body), timeoutMs: 0 }
}

/** Answers with the request body as output, like an engine that echoes. */
const echo: TaskHandler = async (req) => ({
  result: { taskId: req.taskId, attempt: req.attempt, model: req.model, modelDigest: 'sha256:ab', output: req.body, signature: new Uint8Array() }
})

/** A handler that never answers on its own; resolves `started` and reports its signal. */
function hanging (): { handler: TaskHandler, started: Promise<TaskContext> } {
  const started = Promise.withResolvers<TaskContext>()
  const handler: TaskHandler = async (_req, context) => {
    started.resolve(context)
    return await new Promise<TaskResponse>((_resolve, reject) => {
      context.signal.addEventListener('abort', () => { reject(context.signal.reason) }, { once: true })
    })
  }
  return { handler, started: started.promise }
}

function expectCode (promise: Promise<unknown>, code: string, retryable = true): Promise<void> {
  return expect(promise).rejects.toMatchObject({ name: 'DriaError', code, retryable })
}

describe('task protocol', () => {
  let peers: TestPeer[] = []
  let servers: TaskServer[] = []

  afterEach(async () => {
    await Promise.all(servers.map(async s => { await s.stop() }))
    await stopAll(peers)
    peers = []
    servers = []
  })

  async function setup (handler: TaskHandler, clientTimeoutMs?: number): Promise<{ server: TestPeer, client: TestPeer, tasks: TaskClient, addr: Multiaddr }> {
    const server = await startPeer()
    const client = await startPeer()
    peers.push(server, client)
    const taskServer = createTaskServer({ host: server.host, logger }, { handler, readTimeoutMs: 2_000 })
    servers.push(taskServer)
    await taskServer.start()
    const tasks = createTaskClient({ host: client.host, logger }, { timeoutMs: clientTimeoutMs })
    return { server, client, tasks, addr: server.host.getMultiaddrs()[0] }
  }

  it('runs a task: request in, response out, remote peer known to the handler', async () => {
    let seenPeer = ''
    const { client, tasks, addr } = await setup(async (req, context) => {
      seenPeer = context.remotePeer.toString()
      return await echo(req, context)
    })
    const response = await tasks.run(addr, request('t1'))
    expect(response.result?.taskId).toBe('t1')
    expect(new TextDecoder().decode(response.result?.output)).toBe('{"prompt":"Once upon a time"}')
    expect(seenPeer).toBe(client.host.peerId.toString())
  })

  it('passes rejections through', async () => {
    const { tasks, addr } = await setup(async (req) => ({
      rejection: { taskId: req.taskId, code: RejectionCode.REJECTION_CODE_AT_CAPACITY, message: 'busy' }
    }))
    const response = await tasks.run(addr, request('t1'))
    expect(response.rejection?.code).toBe(RejectionCode.REJECTION_CODE_AT_CAPACITY)
    expect(response.result).toBeUndefined()
  })

  it('surfaces handler errors as error results with their code', async () => {
    const { tasks, addr } = await setup(async (req) => {
      if (req.taskId === 'coded') throw new DriaError('MODEL_NOT_LOADED', 'model is not loaded', { retryable: false })
      throw new Error('engine exploded')
    })
    const coded = await tasks.run(addr, request('coded'))
    expect(coded.result?.error).toEqual({ code: 'MODEL_NOT_LOADED', message: 'model is not loaded', retryable: false })
    expect(coded.result?.taskId).toBe('coded')
    const plain = await tasks.run(addr, request('plain'))
    expect(plain.result?.error).toMatchObject({ code: 'TASK_HANDLER_FAILED', retryable: true })
  })

  it('refuses oversized requests without harming the server', async () => {
    const { client, tasks, addr } = await setup(echo)
    const huge = request('huge', 'x'.repeat(MAX_TASK_MESSAGE_BYTES))
    await expectCode(tasks.run(addr, huge), 'TASK_REQUEST_TOO_LARGE', false)

    // A peer that ignores the limit gets its stream aborted once the length prefix is read.
    const stream = await client.host.dialProtocol(addr, TASK_PROTOCOL)
    const raw = lpStream(stream)
    const write = raw.write(new Uint8Array(MAX_TASK_MESSAGE_BYTES + 1)).catch(err => err)
    await expect(raw.read()).rejects.toThrow()
    await write
    await waitFor(() => stream.status !== 'open', 'oversized stream to close')

    expect((await tasks.run(addr, request('after'))).result?.taskId).toBe('after')
  })

  it('survives malformed and missing requests on raw streams', async () => {
    const { client, tasks, addr } = await setup(echo)
    // A valid frame whose protobuf string field runs past its end: cannot decode.
    const garbage = await client.host.dialProtocol(addr, TASK_PROTOCOL)
    await lpStream(garbage).write(Uint8Array.from([0x0a, 0x05, 0x41]))
    await expect(lpStream(garbage).read()).rejects.toThrow()
    // A length prefix that never ends.
    const badPrefix = await client.host.dialProtocol(addr, TASK_PROTOCOL)
    badPrefix.send(new Uint8Array(16).fill(0xff))
    await expect(lpStream(badPrefix).read()).rejects.toThrow()
    // A stream closed before any request.
    const empty = await client.host.dialProtocol(addr, TASK_PROTOCOL)
    await empty.close()
    await expect(lpStream(empty).read()).rejects.toThrow()

    expect((await tasks.run(addr, request('after'))).result?.taskId).toBe('after')
  })

  it('reports a response with neither result nor rejection as malformed', async () => {
    const { client, server } = await setup(echo)
    await server.host.unhandle(TASK_PROTOCOL)
    await server.host.handle(TASK_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      await lp.read()
      await lp.write(Uint8Array.from([0x0f, 0x01, 0x02]))
      await stream.close()
    })
    const tasks = createTaskClient({ host: client.host, logger })
    await expectCode(tasks.run(server.host.getMultiaddrs()[0], request('t1')), 'TASK_RESPONSE_MALFORMED')
  })

  it('fails fast with TASK_STREAM_FAILED when the server host stops mid-task', async () => {
    const { handler, started } = hanging()
    const { server, tasks, addr } = await setup(handler, 60_000)
    const pending = tasks.run(addr, request('t1'))
    const context = await started
    const stoppedAt = Date.now()
    await server.host.stop()
    await expectCode(pending, 'TASK_STREAM_FAILED')
    expect(Date.now() - stoppedAt).toBeLessThan(10_000)
    expect(context.signal.aborted).toBe(true)
  })

  it('aborts running tasks when the task server stops', async () => {
    const { handler, started } = hanging()
    const { tasks, addr } = await setup(handler)
    const pending = tasks.run(addr, request('t1'))
    const context = await started
    await servers[0].stop()
    await expectCode(pending, 'TASK_STREAM_FAILED')
    expect(context.signal.aborted).toBe(true)
  })

  it('aborts the handler when the requester goes away', async () => {
    const { handler, started } = hanging()
    const { tasks, addr } = await setup(handler)
    const controller = new AbortController()
    const pending = tasks.run(addr, request('t1'), { signal: controller.signal })
    const context = await started
    controller.abort(new Error('caller gave up'))
    await expect(pending).rejects.toThrow('caller gave up')
    await waitFor(() => context.signal.aborted, 'handler signal to abort')
  })

  it('times out on a frozen handler', async () => {
    const { handler, started } = hanging()
    const { tasks, addr } = await setup(handler, 500)
    await expectCode(tasks.run(addr, request('t1')), 'TASK_TIMEOUT')
    const context = await started
    await waitFor(() => context.signal.aborted, 'handler signal to abort')
  })

  it('reports unreachable peers as TASK_DIAL_FAILED', async () => {
    const { server, tasks, addr } = await setup(echo)
    await server.host.stop()
    await expectCode(tasks.run(addr, request('t1')), 'TASK_DIAL_FAILED')
  })

  it('runs 40 concurrent tasks over one connection', async () => {
    const { client, server, tasks, addr } = await setup(async (req, context) => {
      await new Promise(resolve => setTimeout(resolve, 50))
      return await echo(req, context)
    })
    const responses = await Promise.all(Array.from({ length: 40 }, async (_, i) => await tasks.run(addr, request(`t${i}`))))
    expect(responses.map(r => r.result?.taskId)).toEqual(Array.from({ length: 40 }, (_, i) => `t${i}`))
    expect(client.host.getConnections(server.host.peerId)).toHaveLength(1)
  })
})
