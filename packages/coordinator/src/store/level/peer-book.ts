import type { KnownPeer, PeerBook } from '../interfaces.js'
import type { Db, Sublevel } from './db.js'

export class LevelPeerBook implements PeerBook {
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
