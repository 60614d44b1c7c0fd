import { generateKeyPair } from '@libp2p/crypto/keys'
import { createDiscovery, createDriaHost, createSessionServer } from '@dria/p2p'
import type { DriaHost } from '@dria/p2p'
import { ModelKind, PROTOCOL_VERSION, SESSION_PROTOCOL, SESSION_VERSIONS, capacityRecordKey, createLogger, signCapacityRecord, signTaskResult } from '@dria/protocol'
import type { Hello, TaskRequest } from '@dria/protocol'

/** A peer that misbehaves at the protocol level (the cheating engine covers lies about content). */
export type HostileMode =
  /** Advertises 1,000 slots in a capacity record stamped 10 years ahead, plus a provider record, and serves nothing. */
  | 'lying-capacity'
  /** Accepts the session stream and never says hello. */
  | 'silent'
  /** Says hello with 1,000 slots, acknowledges every task, answers pings, never answers a task. */
  | 'black-hole'
  /** Says hello with 1,000 slots, then never sends anything again (no acks, no pongs). */
  | 'mute'
  /** Answers every task at once with a signed result whose output is not JSON. */
  | 'malformed'
  /** Says hello, then sends bytes that are not frames. */
  | 'garbage-frames'

export interface HostilePeerInit {
  bootstrap: string[]
  mode: HostileMode
  /** The model it claims (with this digest, e.g. the honest one). */
  model: string
  digest: string
}

export interface HostilePeer {
  peerId: string
  host: DriaHost
  /** Tasks it received. */
  readonly tasks: number
  stop(): Promise<void>
}

const TEN_YEARS_MS = 10 * 365 * 24 * 3600_000

/** Starts a hostile peer in this process, bootstrapped into the network like a node. */
export async function startHostilePeer (init: HostilePeerInit): Promise<HostilePeer> {
  const logger = createLogger('hostile-peer', 'silent')
  const privateKey = await generateKeyPair('Ed25519')
  const host = await createDriaHost({ privateKey, listenPort: 0, bootstrap: init.bootstrap })
  const discovery = createDiscovery({ host, logger })
  let tasks = 0
  const models = [{ name: init.model, digest: init.digest, kind: ModelKind.MODEL_KIND_CHAT, tokensPerSecond: 100_000, contextLength: 4096, capabilities: ['completion', 'score'] }]
  const hello: Hello = { versions: [...SESSION_VERSIONS], agent: `dria-node/${PROTOCOL_VERSION}`, slots: 1000, queueDepth: 1000, engine: 'llamacpp', models }

  const malformedResult = async (request: TaskRequest): Promise<Parameters<typeof signTaskResult>[1]> => await signTaskResult(privateKey, {
    taskId: request.taskId,
    attempt: request.attempt,
    model: request.model,
    modelDigest: init.digest,
    output: new TextEncoder().encode('}{ not json'),
    usage: { promptTokens: 1, completionTokens: 1 },
    signature: new Uint8Array()
  })

  const server = createSessionServer({ host, logger }, {
    hello: () => hello,
    onSession: ({ channel }) => {
      if (init.mode === 'mute') return channel.onFrame(() => {})
      if (init.mode === 'garbage-frames') {
        const stream = host.getConnections(channel.remotePeer).flatMap(c => c.streams).find(s => s.protocol === SESSION_PROTOCOL)
        setTimeout(() => {
          try {
            stream?.send(new Uint8Array(64).fill(0xff))
          } catch { /* already gone */ }
        }, 100)
        return
      }
      channel.onFrame(frame => {
        if (frame.ping != null) channel.send({ pong: frame.ping })
        if (frame.task == null) return
        tasks++
        channel.send({ ack: { taskId: frame.task.taskId } })
        if (init.mode === 'malformed') void malformedResult(frame.task).then(result => { channel.send({ response: { result } }) })
      })
    }
  })
  if (init.mode === 'silent') {
    await host.handle(SESSION_PROTOCOL, () => {})
  } else if (init.mode !== 'lying-capacity') {
    await server.start()
  }

  for (let i = 0; i < 100 && host.getConnections().length === 0; i++) await new Promise(resolve => setTimeout(resolve, 20))
  await discovery.provideModels([init.model])
  if (init.mode === 'lying-capacity') {
    const record = {
      peerId: host.peerId.toMultihash().bytes,
      seq: Date.now() + TEN_YEARS_MS,
      issuedAtMs: Date.now() + TEN_YEARS_MS,
      version: PROTOCOL_VERSION,
      engine: 'llamacpp',
      models,
      slotsTotal: 1000,
      slotsFree: 1000,
      multiaddrs: host.getMultiaddrs().map(ma => ma.toString())
    }
    // Other peers' validators refuse it; it is put anyway, as a liar would (discovery refuses to).
    const value = await signCapacityRecord(privateKey, record)
    try {
      for await (const _ of host.services.dht.put(capacityRecordKey(host.peerId), value, { signal: AbortSignal.timeout(5_000) })) { /* drain */ }
    } catch { /* nobody stores it */ }
  }

  return {
    peerId: host.peerId.toString(),
    host,
    get tasks () { return tasks },
    async stop () {
      await server.stop()
      await host.stop()
    }
  }
}
