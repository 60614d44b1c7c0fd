import type { ModelEntry } from '../engine/index.js'
import type { ModelsAnswer } from './client.js'
import type { NodeStatusSnapshot } from './node-status.js'

const number = (n: number): string => Math.round(n).toLocaleString('en-US')

export function duration (ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${s % 60}s`
  const h = Math.floor(m / 60)
  return h < 48 ? `${h}h ${m % 60}m` : `${Math.floor(h / 24)}d ${h % 24}h`
}

function byCode (counts: Record<string, number>): string {
  const parts = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} ${n}`)
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`
}

function speed (entry: ModelEntry): string {
  return entry.tokensPerSecond === undefined ? (entry.kind === 'embedding' ? 'embedding' : '-') : `${number(entry.tokensPerSecond)} tokens/s`
}

/** A table of models: served or not, speed, why not. */
export function renderModelTable (models: ModelEntry[]): string[] {
  if (models.length === 0) return ['  (none)']
  const rows = models.map(m => [m.name, m.served ? 'served' : 'not served', speed(m), m.served ? (m.digest ?? '') : (m.reason ?? '')])
  const widths = [0, 1, 2].map(i => Math.max(...rows.map(r => r[i].length)))
  return rows.map(r => `  ${r.slice(0, 3).map((cell, i) => cell.padEnd(widths[i])).join('  ')}  ${r[3]}`.trimEnd())
}

/** `dria-node status` for a person. */
export function renderStatus (status: NodeStatusSnapshot, now = Date.now()): string {
  const { network, tasks } = status
  const lines = [
    `node ${status.peerId} (${status.engine}), up ${duration(status.uptimeMs)}`,
    `  listening: ${status.multiaddrs.join(', ') || 'nowhere'}`,
    `network: ${network.connectedPeers} peer${network.connectedPeers === 1 ? '' : 's'} connected`,
    ...(network.bootstrap.length === 0
      ? ['  no --bootstrap peers: this node joins nobody']
      : network.bootstrap.map(b => `  bootstrap ${b.address}: ${b.connected ? 'connected' : 'NOT connected'}`)),
    `slots: ${status.slots.used}/${status.slots.total} busy, ${status.slots.queued} queued`,
    'models:',
    ...renderModelTable(status.models),
    `tasks: ${number(tasks.completed)} completed, ${number(tasks.failed)} failed${byCode(tasks.failedByCode)}, ${number(tasks.rejected)} refused${byCode(tasks.rejectedByCode)}` +
      (tasks.lastTaskAt !== undefined ? `; last ${duration(now - tasks.lastTaskAt)} ago` : ''),
    `tokens served: ${number(tasks.completionTokens)} generated, ${number(tasks.promptTokens)} prompt`
  ]
  if (status.coordinators.length === 0) lines.push('coordinators: no report yet')
  for (const report of status.coordinators) {
    const trust = report.trust.level === 'quarantined' ? `QUARANTINED${report.trust.reason !== undefined ? ` (${report.trust.reason})` : ''}` : report.trust.level
    const demand = report.demand.length === 0 ? 'none' : report.demand.map(d => `${d.model} ${number(d.queued)} queued`).join(', ')
    lines.push(
      `coordinator ${report.coordinator} (report ${duration(Math.max(0, now - report.at))} ago):`,
      `  trust: ${trust}`,
      `  verified: ${number(report.verified.tasks)} tasks, ${number(report.verified.tokens)} tokens`,
      `  demand: ${demand}`
    )
  }
  return lines.join('\n')
}

/** `dria-node models` for a person. */
export function renderModels (answer: ModelsAnswer): string {
  return [`engine: ${answer.engine}`, ...renderModelTable(answer.models), `looked in: ${answer.tried}`].join('\n')
}
