import { describe, expect, it } from 'vitest'
import { isDriaError } from '@dria/protocol'
import type { DriaHost } from '@dria/p2p'
import { WorkQueue } from '../tasks/index.js'
import { createNodeStatus } from './node-status.js'
import type { CoordinatorReport } from './node-status.js'
import { renderStatus } from './render.js'

const COORDINATOR = '12D3KooWFb6UfnnHLXP6wVFcyE1koTE9KmpTjWCXybPAtBK5Hgcg'
const host = {
  peerId: { toString: () => '12D3KooWNode' },
  getConnections: () => [{ remotePeer: { toString: () => COORDINATOR } }],
  getMultiaddrs: () => [{ toString: () => '/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWNode' }]
} as unknown as DriaHost

const report = (over: Partial<CoordinatorReport> = {}): CoordinatorReport => ({
  coordinator: COORDINATOR,
  trust: { level: 'trusted' },
  verified: { tasks: 118, tokens: 3_700 },
  demand: [{ model: 'llama3.2', queued: 40 }],
  at: 1_000,
  ...over
})

function status (maxCoordinators?: number): ReturnType<typeof createNodeStatus> {
  return createNodeStatus({ host, queue: new WorkQueue({ slots: 4, queueDepth: 4 }) }, {
    engine: 'ollama',
    models: [{ name: 'llama3.2', engine: 'ollama', served: true, tokensPerSecond: 42 }],
    bootstrap: [`/ip4/127.0.0.1/tcp/4001/p2p/${COORDINATOR}`, '/ip4/127.0.0.1/tcp/4009/p2p/12D3KooWOther'],
    maxCoordinators
  })
}

describe('node status', () => {
  it('counts tasks and tokens by outcome and code', () => {
    const s = status()
    s.recordTask({ outcome: 'completed', promptTokens: 10, completionTokens: 30 })
    s.recordTask({ outcome: 'completed', promptTokens: 5, completionTokens: 7 })
    s.recordTask({ outcome: 'failed', code: 'ENGINE_ERROR' })
    s.recordTask({ outcome: 'rejected', code: 'AT_CAPACITY' })
    s.recordTask({ outcome: 'rejected', code: 'AT_CAPACITY' })
    const { tasks, network } = s.snapshot()
    expect(tasks).toMatchObject({ completed: 2, failed: 1, rejected: 2, failedByCode: { ENGINE_ERROR: 1 }, rejectedByCode: { AT_CAPACITY: 2 }, promptTokens: 15, completionTokens: 37 })
    expect(network.connectedPeers).toBe(1)
    expect(network.bootstrap.map(b => b.connected)).toEqual([true, false])
  })

  it('keeps the newest report per coordinator, a copy, not the caller\'s object', () => {
    const s = status()
    expect(s.snapshot().coordinators).toEqual([])
    const first = report()
    s.recordCoordinatorReport(first)
    first.verified.tasks = 999
    s.recordCoordinatorReport(report({ at: 500, trust: { level: 'new' } }))
    expect(s.snapshot().coordinators).toEqual([report()])
    s.recordCoordinatorReport(report({ at: 2_000, trust: { level: 'quarantined', reason: 'wrong results' } }))
    expect(s.snapshot().coordinators.map(r => r.trust)).toEqual([{ level: 'quarantined', reason: 'wrong results' }])
  })

  it('refuses malformed reports with COORDINATOR_REPORT_INVALID and bounds how many coordinators it keeps', () => {
    const s = status(2)
    const bad = [
      report({ coordinator: '' }),
      report({ trust: { level: 'root' as 'new' } }),
      report({ verified: { tasks: -1, tokens: 0 } }),
      report({ verified: { tasks: 1.5, tokens: 0 } }),
      report({ demand: [{ model: '', queued: 1 }] }),
      report({ demand: Array.from({ length: 300 }, (_, i) => ({ model: `m${i}`, queued: 1 })) }),
      report({ at: Number.NaN }),
      null as unknown as CoordinatorReport
    ]
    for (const r of bad) {
      expect(() => { s.recordCoordinatorReport(r) }).toThrow()
      try { s.recordCoordinatorReport(r) } catch (err) { expect(isDriaError(err, 'COORDINATOR_REPORT_INVALID')).toBe(true) }
    }
    s.recordCoordinatorReport(report({ coordinator: 'a', at: 1 }))
    s.recordCoordinatorReport(report({ coordinator: 'b', at: 3 }))
    s.recordCoordinatorReport(report({ coordinator: 'c', at: 2 }))
    s.recordCoordinatorReport(report({ coordinator: 'd', at: 0 }))
    expect(s.snapshot().coordinators.map(r => r.coordinator).sort()).toEqual(['b', 'c'])
  })

  it('renders trust, quarantine, verified work and demand per coordinator', () => {
    const s = status()
    s.recordCoordinatorReport(report({ trust: { level: 'quarantined', reason: '3 strikes' } }))
    const text = renderStatus(s.snapshot(), 13_000)
    expect(text).toContain(`coordinator ${COORDINATOR} (report 12s ago):`)
    expect(text).toContain('trust: QUARANTINED (3 strikes)')
    expect(text).toContain('verified: 118 tasks, 3,700 tokens')
    expect(text).toContain('demand: llama3.2 40 queued')
    expect(text).toContain('bootstrap /ip4/127.0.0.1/tcp/4009/p2p/12D3KooWOther: NOT connected')
  })
})
