import { DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_LINES_PER_FILE } from '../constants.js'

export type PlanName = 'free' | 'developer' | 'enterprise'
export const PLAN_NAMES: readonly PlanName[] = ['free', 'developer', 'enterprise']

export interface PlanLimits {
  /** Batch input files a key may upload per rolling 24 h. */
  filesPerDay: number
  /** Requests (lines) per batch file; at most 5,000,000. */
  tasksPerFile: number
  /** Largest upload, bytes. */
  fileBytes: number
  /** Batches not yet finished at once. */
  concurrentBatches: number
}

export const MAX_TASKS_PER_FILE = 5_000_000

const base = { tasksPerFile: DEFAULT_MAX_LINES_PER_FILE, fileBytes: DEFAULT_MAX_FILE_BYTES, concurrentBatches: 500 }

export const DEFAULT_PLANS: Readonly<Record<PlanName, PlanLimits>> = {
  free: { ...base, filesPerDay: 3 },
  developer: { ...base, filesPerDay: 10 },
  enterprise: { ...base, filesPerDay: Number.POSITIVE_INFINITY }
}

/**
 * Plans with overrides applied, e.g. from `DRIA_PLANS='{"free":{"filesPerDay":5}}'`.
 * Unknown plans or fields are rejected so a typo does not silently keep the default.
 */
export function resolvePlans (overrides: Partial<Record<string, Partial<Record<string, number>>>> = {}): Record<PlanName, PlanLimits> {
  const plans = structuredClone(DEFAULT_PLANS) as Record<PlanName, PlanLimits>
  for (const [name, limits] of Object.entries(overrides)) {
    if (!PLAN_NAMES.includes(name as PlanName)) throw new Error(`unknown plan "${name}" (plans: ${PLAN_NAMES.join(', ')})`)
    for (const [field, value] of Object.entries(limits ?? {})) {
      if (!(field in plans[name as PlanName])) throw new Error(`unknown limit "${field}" in plan "${name}"`)
      if (typeof value !== 'number' || !(value > 0)) throw new Error(`limit ${name}.${field} must be a positive number`)
      if (field === 'tasksPerFile' && value > MAX_TASKS_PER_FILE) throw new Error(`${name}.tasksPerFile is capped at ${MAX_TASKS_PER_FILE}`)
      plans[name as PlanName][field as keyof PlanLimits] = value
    }
  }
  return plans
}
