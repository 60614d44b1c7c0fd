import { capacityRecordKey, modelCid, openCapacityRecord, signCapacityRecord } from '@dria/protocol'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { DISCOVERY_PROVIDER_LIMIT, DISCOVERY_QUERY_TIMEOUT_MS } from '../constants.js'
import type { DriaHost } from '../host/index.js'
import type { CapacityRecord, Logger } from '@dria/protocol'
import type { AbortOptions, PeerId, PrivateKey } from '@libp2p/interface'

export interface DiscoveryComponents {
  host: DriaHost
  logger: Logger
}

export interface DiscoveryInit {
  /** Upper bound of each DHT lookup; what was found by then is the answer. Default 20 s. */
  queryTimeoutMs?: number
  /** Providers returned by `findProviders` when the caller passes no `limit`. Default 20. */
  providerLimit?: number
}

export interface FindProvidersOptions extends AbortOptions {
  /** Stop the lookup once this many providers are found. */
  limit?: number
}

export interface Discovery {
  /** Announces this host as a provider of each model (one provider record per model CID). */
  provideModels(models: string[], options?: AbortOptions): Promise<void>
  /** Peers other than this host that announced `model`; empty when none are found. */
  findProviders(model: string, options?: FindProvidersOptions): Promise<PeerId[]>
  /**
   * Signs `record` and stores it under `/dria/<peerId>` on this host and on the closest peers.
   * `acks` counts the peers that stored it: 0 means nobody did.
   */
  publishCapacity(privateKey: PrivateKey, record: CapacityRecord, options?: AbortOptions): Promise<{ acks: number }>
  /** The verified capacity record of `peerId` with the highest `seq`, if any peer holds one. */
  fetchCapacity(peerId: PeerId, options?: AbortOptions): Promise<CapacityRecord | undefined>
}

/**
 * Finding nodes through the DHT: provider records say who serves a model, signed capacity
 * records say how much room a node has. Lookups are best-effort: a lookup that times out or
 * fails yields what it found so far (and a log line); only the caller's own abort throws.
 */
export function createDiscovery (components: DiscoveryComponents, init: DiscoveryInit = {}): Discovery {
  const { host } = components
  const dht = host.services.dht
  const log = components.logger.child({ module: 'discovery' })
  const queryTimeoutMs = init.queryTimeoutMs ?? DISCOVERY_QUERY_TIMEOUT_MS
  const providerLimit = init.providerLimit ?? DISCOVERY_PROVIDER_LIMIT

  async function lookup (op: string, callerSignal: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<void>): Promise<void> {
    callerSignal?.throwIfAborted()
    // With no connection at all kad-dht would wait for a peer until the timeout; there is
    // nobody to ask, so answer at once and let the caller retry when peers arrive.
    if (host.getConnections().length === 0) {
      log.debug({ op }, 'no connected peers: lookup skipped')
      return
    }
    const timeout = AbortSignal.timeout(queryTimeoutMs)
    const signal = callerSignal == null ? timeout : AbortSignal.any([callerSignal, timeout])
    try {
      await run(signal)
    } catch (err) {
      if (callerSignal?.aborted === true) throw callerSignal.reason
      if (timeout.aborted) log.debug({ op, timeoutMs: queryTimeoutMs }, 'lookup timed out')
      else log.warn({ op, err }, 'lookup failed')
    }
  }

  async function provideModel (model: string, signal: AbortSignal | undefined): Promise<void> {
    let acks = 0
    await lookup('provide', signal, async (signal) => {
      for await (const event of dht.provide(modelCid(model), { signal })) {
        if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') acks++
      }
    })
    log.debug({ model, acks }, 'model provided')
  }

  return {
    async provideModels (models, options = {}) {
      await Promise.all(models.map(async model => { await provideModel(model, options.signal) }))
    },

    async findProviders (model, options = {}) {
      const limit = options.limit ?? providerLimit
      const found: PeerId[] = []
      await lookup('find providers', options.signal, async (signal) => {
        for await (const provider of host.contentRouting.findProviders(modelCid(model), { signal })) {
          if (provider.id.equals(host.peerId)) continue
          found.push(provider.id)
          // the iterator would otherwise run to the end of the lookup
          if (found.length >= limit) break
        }
      })
      log.debug({ model, providers: found.length }, 'providers found')
      return found
    },

    async publishCapacity (privateKey, record, options = {}) {
      const key = capacityRecordKey(peerIdFromPrivateKey(privateKey))
      const value = await signCapacityRecord(privateKey, record)
      // Every peer would reject a record that does not open; fail here instead of silently.
      await openCapacityRecord(key, value)
      let acks = 0
      await lookup('publish capacity', options.signal, async (signal) => {
        // The DHT service's put, not contentRouting.put: only its events say who stored it.
        for await (const event of dht.put(key, value, { signal })) {
          if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE' &&
            event.record != null && Buffer.compare(event.record.value, value) === 0) acks++
        }
      })
      log.debug({ seq: record.seq, acks }, 'capacity published')
      return { acks }
    },

    async fetchCapacity (peerId, options = {}) {
      const key = capacityRecordKey(peerId)
      let best: CapacityRecord | undefined
      const consider = async (value: Uint8Array): Promise<void> => {
        try {
          const record = await openCapacityRecord(key, value)
          if (best == null || record.seq > best.seq) best = record
        } catch (err) {
          log.debug({ peer: peerId.toString(), err }, 'capacity record rejected')
        }
      }
      await lookup('fetch capacity', options.signal, async (signal) => {
        for await (const event of dht.get(key, { signal })) {
          // kad-dht only yields its own pick at the end; peers' answers show up on the way
          if (event.name === 'VALUE') await consider(event.value)
          else if (event.name === 'PEER_RESPONSE' && event.record != null) await consider(event.record.value)
        }
      })
      return best
    }
  }
}
