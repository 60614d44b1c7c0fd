import type { PeerTrustRecord, TrustBook } from '../interfaces.js'
import type { Db, Sublevel } from './db.js'

export class LevelTrustBook implements TrustBook {
  readonly #records: Sublevel<PeerTrustRecord>

  constructor (db: Db) {
    this.#records = db.sublevel<string, PeerTrustRecord>('trust', { valueEncoding: 'json' })
  }

  async all (): Promise<PeerTrustRecord[]> {
    return await this.#records.values().all()
  }

  async putMany (records: PeerTrustRecord[]): Promise<void> {
    await this.#records.batch(records.map(record => ({ type: 'put' as const, key: record.peerId, value: record })))
  }
}
