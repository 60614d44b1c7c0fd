import { DriaError } from '@dria/protocol'
import type { TaskFailure, TaskOutcome, TaskRow } from './types.js'

/**
 * The task state machine, shared by every TaskStore: each function checks the row's state
 * and returns the row after the transition (the store persists it).
 */
export const transitions = {
  pending (row: TaskRow): TaskRow {
    if (row.state !== 'assigned') wrongState(row, 'assigned')
    return { ...row, state: 'pending', peer: undefined }
  },
  completed (row: TaskRow, outcome: TaskOutcome, attempts = row.attempts): TaskRow {
    if (row.state !== 'pending' && row.state !== 'assigned') wrongState(row, 'pending')
    return { ...row, state: 'completed', outcome, peer: outcome.peer, attempts }
  },
  redo (row: TaskRow): TaskRow {
    if (row.state !== 'completed') wrongState(row, 'completed')
    return { ...row, state: 'pending', peer: undefined, outcome: undefined }
  },
  failed (row: TaskRow, failure: TaskFailure): TaskRow {
    if (row.state !== 'pending' && row.state !== 'assigned') wrongState(row, 'pending or assigned')
    return { ...row, state: 'failed', failure }
  }
}

export function wrongState (row: TaskRow, expected: string): never {
  throw new DriaError('TASK_WRONG_STATE', `task ${row.batchId}#${row.index} is ${row.state}, expected ${expected}`)
}

/**
 * The verb transitions of a TaskStore over the one write each backend does (`move`: persist
 * `to`, and apply it to `from` at once).
 */
export abstract class TaskTransitions {
  protected abstract move (from: TaskRow, to: TaskRow): Promise<void>

  async markPending (row: TaskRow): Promise<void> {
    await this.move(row, transitions.pending(row))
  }

  async markCompleted (row: TaskRow, outcome: TaskOutcome, attempts = row.attempts): Promise<void> {
    await this.move(row, transitions.completed(row, outcome, attempts))
  }

  async markRedo (row: TaskRow): Promise<void> {
    await this.move(row, transitions.redo(row))
  }

  async markFailed (row: TaskRow, failure: TaskFailure): Promise<void> {
    await this.move(row, transitions.failed(row, failure))
  }
}
