import { InvalidArgumentError, Option } from 'commander'

/**
 * Command-line options that also read a `DRIA_*` environment variable and show their default
 * in `--help`. Shared by every binary so flags behave the same everywhere.
 */
export function option (flags: string, description: string, env: string, defaultValue?: unknown): Option {
  const opt = new Option(flags, description).env(env)
  return defaultValue === undefined ? opt : opt.default(defaultValue)
}

export function parseInteger (min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`)
    return n
  }
}

export function parseNumber (min: number): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`expected a number ≥ ${min}`)
    return n
  }
}

/** `a,b` lists; repeating the flag appends (`--bootstrap x --bootstrap y`). */
export function parseList (value: string, previous: string[] | undefined): string[] {
  const items = value.split(',').map(s => s.trim()).filter(s => s.length > 0)
  return [...(previous ?? []), ...items]
}

export function parseChoice<T extends string> (choices: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}`)
    return value as T
  }
}
