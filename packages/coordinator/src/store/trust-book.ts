import type { Db, Sublevel } from './db.js'

/** What the coordinator has learned about one node identity; kept across restarts. */
export interface PeerTrustRecord {
  peerId: string
  /** `allowlisted` is configuration, not stored. */
  level: 'new' | 'trusted' | 'quarantined'
  /** When this identity was first seen (ms since epoch). */
  firstSeen: number
  /** When `level` last changed. */
  since: number
  /** Why it is at its level (a quarantine's cause). */
  reason?: string
  /** Its results that verification checked, by outcome. */
  checks: { passed: number, failed: number }
  /** Verdicts of it (as a verifier) that the majority contradicted. */
  strikes: number
  /** Results accepted from it: the basis of rewards. */
  served: { tasks: number, tokens: number }
}

/** Per-identity trust records (LevelDB), loaded whole at start: there is one per node ever seen. */
export class TrustBook {
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
