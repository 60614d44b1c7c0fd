export * from './task-runner.js'
export * from './session-handler.js'
export * from './work-queue.js'
export type { ScoreTask } from './score-task.js'
