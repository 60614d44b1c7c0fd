/** The JSON of `/api/v0/network/nodes` and `/api/v0/network/stats` (see the README). */

export interface NodeStatus {
  peer_id: string
  engine: string
  version: string
  models: Array<{ name: string, digest: string, kind: string, tokens_per_second: number, capabilities: string[], accepted: boolean }>
  slots: { advertised: number, queue_depth: number, window: number, in_flight: number }
  connected_since: number | null
  uptime_seconds: number | null
  throughput: { tokens_per_second: number, tasks_per_second: number, window_seconds: number }
  trust: { level: string, reason: string | null, since: number | null }
  strikes: number
  verified: { tasks: number, tokens: number, audited: number }
  checks: { passed: number, failed: number }
  rtt_ms: number
}

export interface HistoryPoint {
  at: number
  tasks: number
  failed: number
  input_tokens: number
  output_tokens: number
  refused: number | null
  audits_agreed: number | null
  audits_caught: number | null
  audits_inconclusive: number | null
}

export interface ModelStatus {
  name: string
  kind: string
  nodes: number
  digests: string[]
  slots: { advertised: number, in_flight: number }
  tokens_per_second: number
  queue_depth: number
}

export interface NetworkStats {
  at: number
  nodes: { live: number, by_trust: Record<string, number> }
  slots: { advertised: number, in_flight: number }
  models: ModelStatus[]
  queue: { depth: number, by_model: Record<string, number>, unattributed: number }
  batches: Record<string, number>
  throughput: { window_seconds: number, tasks_per_second: number, tokens_per_second: number }
  totals: { tasks: number, failed: number, input_tokens: number, output_tokens: number }
  verification: { accepted: number, refused: number | null, audits: Record<string, number> | null }
  history?: { interval_seconds: number, points: HistoryPoint[] }
}
