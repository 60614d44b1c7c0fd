import { PROTOCOL_VERSION } from '@dria/protocol'
import type { CapacityRecord, Logger, ModelCapacity } from '@dria/protocol'
import type { Discovery, DriaHost } from '@dria/p2p'
import type { PrivateKey } from '@libp2p/interface'
import type { WorkQueue } from '../tasks/index.js'

export interface AdvertiserComponents {
  host: DriaHost
  discovery: Discovery
  privateKey: PrivateKey
  queue: WorkQueue
  logger: Logger
}

export interface AdvertiserInit {
  models: ModelCapacity[]
  engine: string
  intervalMs: number
  reprovideIntervalMs: number
}

export interface Advertiser {
  /** Publishes once (provider records + capacity record) and keeps them fresh. */
  start(): Promise<{ acks: number }>
  stop(): void
  /** The record last published. */
  readonly record: CapacityRecord | undefined
}

/**
 * Keeps the node findable: a provider record per model (who serves it) and a signed capacity
 * record (what it serves, its addresses, roughly how busy it is). Coordinators learn a node's
 * real state from its session, not from these records; they are discovery only.
 */
export function createAdvertiser (components: AdvertiserComponents, init: AdvertiserInit): Advertiser {
  const { host, discovery, privateKey, queue } = components
  const log = components.logger.child({ module: 'advertiser' })
  const timers: NodeJS.Timeout[] = []
  let lastSeq = 0
  let record: CapacityRecord | undefined
  let lastAcks = 0

  function buildRecord (): CapacityRecord {
    // Wall-clock seq keeps records monotonic across restarts of the same identity.
    lastSeq = Math.max(lastSeq + 1, Date.now())
    return {
      peerId: host.peerId.toMultihash().bytes,
      seq: lastSeq,
      issuedAtMs: Date.now(),
      version: PROTOCOL_VERSION,
      engine: init.engine,
      models: init.models,
      slotsTotal: queue.slots,
      slotsFree: Math.max(0, queue.slots - queue.running),
      multiaddrs: host.getMultiaddrs().map(ma => ma.toString())
    }
  }

  async function publishCapacity (): Promise<number> {
    record = buildRecord()
    const { acks } = await discovery.publishCapacity(privateKey, record)
    lastAcks = acks
    log.debug({ seq: record.seq, slotsFree: record.slotsFree, acks }, 'capacity published')
    return acks
  }

  async function provide (): Promise<void> {
    await discovery.provideModels(init.models.map(m => m.name))
  }

  function every (ms: number, task: () => Promise<unknown>, what: string): void {
    const timer = setInterval(() => {
      task().catch(err => { log.warn({ err }, `${what} failed`) })
    }, ms)
    timer.unref()
    timers.push(timer)
  }

  // A node that started before any peer was reachable publishes to nobody; retry on first contact.
  const onConnect = (): void => {
    if (lastAcks > 0) return
    Promise.all([provide(), publishCapacity()]).catch(err => { log.warn({ err }, 're-advertise failed') })
  }

  return {
    get record () { return record },
    async start () {
      const [, acks] = await Promise.all([provide(), publishCapacity()])
      every(init.intervalMs, publishCapacity, 'capacity publish')
      every(init.reprovideIntervalMs, provide, 'provide')
      host.addEventListener('peer:connect', onConnect)
      log.info({ models: init.models.map(m => m.name), acks }, 'advertised')
      return { acks }
    },
    stop () {
      timers.splice(0).forEach(clearInterval)
      host.removeEventListener('peer:connect', onConnect)
    }
  }
}
