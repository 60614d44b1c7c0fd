import { randomInt } from 'node:crypto'
import type { Logger } from '@dria/protocol'
import {
  DEFAULT_AUDIT_RATE, DEFAULT_QUARANTINE_STRIKES, DEFAULT_TRUST_AFTER, TRUST_FLUSH_MS, VERIFIER_WEIGHTS
} from '../constants.js'
import type { PeerTrustRecord, TrustBook } from '../store/index.js'

export type TrustLevel = 'new' | 'trusted' | 'allowlisted' | 'quarantined'

export interface PeerTrust extends Omit<PeerTrustRecord, 'level'> {
  level: TrustLevel
}

export interface TrustComponents {
  book: TrustBook
  logger: Logger
}

export interface TrustInit {
  /** Peer ids of verifiers the coordinator's operator runs: trusted without proof, never checked. */
  allowlist?: string[]
  /** Checked results a new identity must pass before it is trusted. Default 50. */
  trustAfter?: number
  /** Share of a trusted node's results that are checked. Default 0.1. */
  checkRate?: number
  /** Overruled verdicts after which a verifier is quarantined. Default 3. */
  quarantineStrikes?: number
  /** Uniform [0, 1) source; unpredictable (crypto) by default. */
  random?: () => number
  /**
   * With a store other coordinators share: how often their quarantines are read back and
   * applied here. Default: never (the store is this coordinator's alone).
   */
  syncMs?: number
}

export interface Trust {
  /** Loads every identity's record. */
  start(): Promise<void>
  /** Writes what is pending. */
  stop(): Promise<void>
  level(peerId: string): TrustLevel
  isQuarantined(peerId: string): boolean
  /** Whether this result of `peerId` is to be checked: all of a new node's, a sample of a trusted one's. */
  shouldCheck(peerId: string): boolean
  /** How much a verdict of `peerId` counts, and how likely it is picked as verifier. */
  verifierWeight(peerId: string): number
  /** A result of `peerId` was accepted (checked or not). */
  served(peerId: string, tokens: number): void
  /** A result of `peerId` passed a check. */
  passedCheck(peerId: string): void
  /** A deterministic check proved a result of `peerId` wrong: quarantined at once. */
  provenLie(peerId: string, reason: string): void
  /** A verdict of `peerId` was overruled; enough of them quarantine it. */
  strike(peerId: string, reason: string): void
  onQuarantine(listener: (peerId: string) => void): void
  /** What is known of `peerId` (a fresh record for an identity never seen). */
  status(peerId: string): PeerTrust
  statuses(): PeerTrust[]
}

/** Uniform [0, 1) from the OS's CSPRNG: nobody can predict which results get checked. */
const cryptoRandom = (): number => randomInt(0, 2 ** 47) / 2 ** 47

/**
 * Trust is earned by an identity, not a connection: records are keyed by peer id and kept in
 * the store, so hanging up, redialling or restarting the coordinator changes nothing. A new
 * identity has every result checked until it passed `trustAfter` checks, then a sample; a
 * proven lie quarantines at once, and a quarantined node's results are redone elsewhere.
 */
export function createTrust (components: TrustComponents, init: TrustInit = {}): Trust {
  const { book } = components
  const log = components.logger.child({ module: 'trust' })
  const allowlist = new Set(init.allowlist ?? [])
  const trustAfter = init.trustAfter ?? DEFAULT_TRUST_AFTER
  const checkRate = init.checkRate ?? DEFAULT_AUDIT_RATE
  const quarantineStrikes = init.quarantineStrikes ?? DEFAULT_QUARANTINE_STRIKES
  const random = init.random ?? cryptoRandom
  const records = new Map<string, PeerTrustRecord>()
  const dirty = new Set<string>()
  const listeners: Array<(peerId: string) => void> = []
  let timer: NodeJS.Timeout | undefined
  let syncTimer: NodeJS.Timeout | undefined
  let flushing: Promise<void> = Promise.resolve()

  function record (peerId: string): PeerTrustRecord {
    let found = records.get(peerId)
    if (found === undefined) {
      const now = Date.now()
      found = { peerId, level: 'new', firstSeen: now, since: now, checks: { passed: 0, failed: 0 }, strikes: 0, served: { tasks: 0, tokens: 0 } }
      records.set(peerId, found)
      dirty.add(peerId)
    }
    return found
  }

  function level (peerId: string): TrustLevel {
    const found = records.get(peerId)
    if (found?.level === 'quarantined') return 'quarantined'
    if (allowlist.has(peerId)) return 'allowlisted'
    return found?.level ?? 'new'
  }

  function flush (): Promise<void> {
    if (dirty.size === 0) return flushing
    const batch = [...dirty].map(id => ({ ...records.get(id)!, checks: { ...records.get(id)!.checks }, served: { ...records.get(id)!.served } }))
    dirty.clear()
    flushing = flushing.then(async () => { await book.putMany(batch) }).catch(err => { log.error({ err }, 'trust records not written') })
    return flushing
  }

  function changed (peerId: string): void {
    dirty.add(peerId)
  }

  function quarantine (peerId: string, reason: string): void {
    const found = record(peerId)
    if (found.level === 'quarantined') return
    found.level = 'quarantined'
    found.since = Date.now()
    found.reason = reason
    changed(peerId)
    void flush()
    log.warn({ peer: peerId, reason }, 'node quarantined')
    listeners.forEach(listener => { listener(peerId) })
  }

  /** Quarantines another coordinator decided (on a shared store). */
  async function sync (): Promise<void> {
    for (const stored of await book.all()) {
      if (stored.level !== 'quarantined' || level(stored.peerId) === 'quarantined' || allowlist.has(stored.peerId)) continue
      quarantine(stored.peerId, stored.reason ?? 'quarantined by another coordinator')
    }
  }

  const status = (peerId: string): PeerTrust => {
    const found = records.get(peerId) ?? record(peerId)
    return { ...found, level: level(peerId) }
  }

  return {
    async start () {
      for (const found of await book.all()) records.set(found.peerId, found)
      timer = setInterval(() => { void flush() }, TRUST_FLUSH_MS)
      timer.unref()
      if (init.syncMs !== undefined) {
        syncTimer = setInterval(() => { sync().catch(err => { log.warn({ err }, 'trust records not read') }) }, init.syncMs)
        syncTimer.unref()
      }
    },
    async stop () {
      clearInterval(timer)
      clearInterval(syncTimer)
      await flush()
    },
    level,
    isQuarantined: peerId => level(peerId) === 'quarantined',
    shouldCheck (peerId) {
      switch (level(peerId)) {
        case 'allowlisted': return false
        case 'trusted': return checkRate > 0 && random() < checkRate
        default: return true
      }
    },
    verifierWeight: peerId => VERIFIER_WEIGHTS[level(peerId)],
    served (peerId, tokens) {
      const found = record(peerId)
      found.served.tasks++
      found.served.tokens += tokens
      changed(peerId)
    },
    passedCheck (peerId) {
      const found = record(peerId)
      found.checks.passed++
      if (found.level === 'new' && found.checks.failed === 0 && found.checks.passed >= trustAfter) {
        found.level = 'trusted'
        found.since = Date.now()
        found.reason = `passed ${found.checks.passed} checks`
        log.info({ peer: peerId, checks: found.checks.passed }, 'node trusted')
      }
      changed(peerId)
    },
    provenLie (peerId, reason) {
      const found = record(peerId)
      found.checks.failed++
      if (allowlist.has(peerId)) {
        // An operator-run verifier is never quarantined by the network; say loudly that it disagreed.
        log.error({ peer: peerId, reason }, 'allowlisted verifier failed a check')
        changed(peerId)
        return
      }
      quarantine(peerId, reason)
    },
    strike (peerId, reason) {
      const found = record(peerId)
      found.strikes++
      changed(peerId)
      log.warn({ peer: peerId, strikes: found.strikes, reason }, 'node struck')
      if (found.strikes >= quarantineStrikes && !allowlist.has(peerId)) quarantine(peerId, `${found.strikes} verdicts overruled; last: ${reason}`)
    },
    onQuarantine (listener) {
      listeners.push(listener)
    },
    status,
    statuses: () => [...records.keys()].map(status)
  }
}
