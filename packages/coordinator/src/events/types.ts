import type { HistoryPoint } from '../api/network-status.js'
import type { BatchRecord } from '../store/index.js'

/**
 * What happens inside the coordinator that dashboards want to know. Published synchronously
 * on the bus (publishing must stay cheap: `batch.updated` fires for every settled line).
 */
export type CoordinatorEvent =
  /** A batch's status, counts or usage changed; `batch` is the live record (read it, never keep it). */
  | { type: 'batch.updated', batch: BatchRecord }
  | { type: 'node.joined', peerId: string }
  | { type: 'node.left', peerId: string }
  | { type: 'node.quarantined', peerId: string, reason: string }
  /** A new point of the network history (every few seconds). */
  | { type: 'network.sample', point: HistoryPoint }

export type CoordinatorEventType = CoordinatorEvent['type']
