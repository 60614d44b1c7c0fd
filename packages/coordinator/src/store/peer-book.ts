import type { Db, Sublevel } from './db.js'

export interface KnownPeer {
  id: string
  multiaddrs: string[]
}

/**
 * Nodes the coordinator has worked with. After a restart it dials them straight away, so work
 * resumes (and models validate) without waiting for nodes to find it again.
 */
export class PeerBook {
  readonly #peers: Sublevel<KnownPeer>

  constructor (db: Db) {
    this.#peers = db.sublevel<string, KnownPeer>('known-peers', { valueEncoding: 'json' })
  }

  async all (): Promise<KnownPeer[]> {
    return await this.#peers.values().all()
  }

  async remember (peer: KnownPeer): Promise<void> {
    await this.#peers.put(peer.id, peer)
  }

  async forget (id: string): Promise<void> {
    await this.#peers.del(id)
  }
}
