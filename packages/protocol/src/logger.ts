import { pino } from 'pino'
import { PinoPretty } from 'pino-pretty'
import type { Logger } from 'pino'

export type { Logger }

/** `auto`: readable lines on a terminal, JSON (one object a line) otherwise. */
export type LogFormat = 'auto' | 'pretty' | 'json'

export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'pretty', 'json']

/** Fields that belong on the message line itself when printed for a person. */
const INLINE_FIELDS = ['reason', 'hint', 'code'] as const

function prettyLine (log: Record<string, unknown>, messageKey: string): string {
  const [reason, hint, code] = INLINE_FIELDS.map(key => log[key])
  return `${String(log[messageKey] ?? '')}${reason !== undefined ? `: ${String(reason)}` : ''}${hint !== undefined ? ` (${String(hint)})` : ''}${code !== undefined ? ` [${String(code)}]` : ''}`
}

/**
 * The root logger of a process. Level from `DRIA_LOG_LEVEL` (default `info`); `silent` in
 * tests unless asked for. Format from `DRIA_LOG_FORMAT` (default `auto`). Writes to stdout,
 * or to stderr (`fd` 2) for commands whose stdout is their answer.
 */
export function createLogger (
  name: string,
  level = process.env.DRIA_LOG_LEVEL ?? (process.env.VITEST != null ? 'silent' : 'info'),
  format: LogFormat = (process.env.DRIA_LOG_FORMAT as LogFormat | undefined) ?? 'auto',
  fd: 1 | 2 = 1
): Logger {
  const stream = fd === 1 ? process.stdout : process.stderr
  const pretty = format === 'pretty' || (format === 'auto' && stream.isTTY === true)
  if (!pretty) return fd === 1 ? pino({ name, level }) : pino({ name, level }, pino.destination({ fd, sync: true }))
  return pino({ name, level }, PinoPretty({
    destination: fd,
    sync: true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss',
    ignore: ['pid', 'hostname', 'name', ...INLINE_FIELDS].join(','),
    messageFormat: prettyLine
  }))
}
