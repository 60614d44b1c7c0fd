import { pino } from 'pino'
import type { Logger } from 'pino'

export type { Logger }

/**
 * The root logger of a process. Level from `DRIA_LOG_LEVEL` (default `info`);
 * `silent` in tests unless asked for.
 */
export function createLogger (name: string, level = process.env.DRIA_LOG_LEVEL ?? (process.env.VITEST != null ? 'silent' : 'info')): Logger {
  return pino({ name, level })
}
