import type { Db, Sublevel } from './db.js'

export interface KnownPeer {
  id: string
  multiaddrs: string[]
}

/**
 * Nodes the coordinator has worked with, and those it caught lying. After a restart it dials them straight away, so
 * work resumes (and models validate) without waiting for nodes to find it again.
 */
export class PeerBook {
  readonly #peers: Sublevel<KnownPeer>
  readonly #quarantined: Sublevel<{ at: number, strikes: number }>

  constructor (db: Db) {
    this.#peers = db.sublevel<string, KnownPeer>('known-peers', { valueEncoding: 'json' })
    this.#quarantined = db.sublevel<string, { at: number, strikes: number }>('quarantined-peers', { valueEncoding: 'json' })
  }

  /** Peers caught returning wrong results: they stay out across restarts. */
  async quarantined (): Promise<string[]> {
    return await this.#quarantined.keys().all()
  }

  async quarantine (id: string, strikes: number): Promise<void> {
    await this.#quarantined.put(id, { at: Date.now(), strikes })
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
