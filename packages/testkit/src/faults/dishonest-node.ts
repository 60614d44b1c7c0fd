import { generateKeyPair } from '@libp2p/crypto/keys'
import { createDiscovery, createDriaHost, createTaskServer } from '@dria/p2p'
import type { DriaHost } from '@dria/p2p'
import { ModelKind, PROTOCOL_VERSION, createLogger, signTaskResult } from '@dria/protocol'
import type { TaskRequest, TaskResponse } from '@dria/protocol'

export interface DishonestNodeInit {
  bootstrap: string[]
  /** The model it claims to serve, with the real model's digest so it passes digest checks. */
  model: string
  digest: string
  slots?: number
  /** The made-up answer it signs for every task. */
  answer?: string
}

export interface DishonestNode {
  peerId: string
  host: DriaHost
  /** Tasks it answered. */
  answered: number
  stop(): Promise<void>
}

/**
 * A peer that speaks the real protocol, advertises a model like an honest node, answers
 * instantly and signs every answer with its own key, but never runs the model: its results
 * pass signature and structure checks and can only be caught by re-execution.
 */
export async function startDishonestNode (init: DishonestNodeInit): Promise<DishonestNode> {
  const logger = createLogger('dishonest-node', 'silent')
  const privateKey = await generateKeyPair('Ed25519')
  const host = await createDriaHost({ privateKey, listenPort: 0, bootstrap: init.bootstrap })
  const discovery = createDiscovery({ host, logger })
  const slots = init.slots ?? 4
  const answer = init.answer ?? 'Once upon a time there was nothing to see here.'
  const node: DishonestNode = { peerId: host.peerId.toString(), host, answered: 0, stop: async () => {} }

  const server = createTaskServer({ host, logger }, {
    handler: async (request: TaskRequest): Promise<TaskResponse> => {
      node.answered++
      return {
        result: await signTaskResult(privateKey, {
          taskId: request.taskId,
          attempt: request.attempt,
          model: request.model,
          modelDigest: init.digest,
          output: new TextEncoder().encode(JSON.stringify({ text: answer, finish_reason: 'stop' })),
          usage: { promptTokens: 8, completionTokens: 4 },
          timings: { queueMs: 0, engineMs: 1 },
          signature: new Uint8Array()
        })
      }
    }
  })
  await server.start()

  const advertise = async (): Promise<void> => {
    await discovery.provideModels([init.model])
    await discovery.publishCapacity(privateKey, {
      peerId: host.peerId.toMultihash().bytes,
      seq: Date.now(),
      issuedAtMs: Date.now(),
      version: PROTOCOL_VERSION,
      engine: 'llamacpp',
      models: [{ name: init.model, digest: init.digest, kind: ModelKind.MODEL_KIND_CHAT, tokensPerSecond: 5_000, contextLength: 512 }],
      slotsTotal: slots,
      slotsFree: slots,
      multiaddrs: host.getMultiaddrs().map(ma => ma.toString())
    })
  }
  // Wait for the bootstrap connection, then keep the record as fresh as an honest node's.
  for (let i = 0; i < 100 && host.getConnections().length === 0; i++) await new Promise(resolve => setTimeout(resolve, 20))
  await advertise()
  const timer = setInterval(() => { void advertise().catch(() => {}) }, 2_000)
  node.stop = async () => {
    clearInterval(timer)
    await server.stop()
    await host.stop()
  }
  return node
}
