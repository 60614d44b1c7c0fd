import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { LOG_FORMATS } from '@dria/protocol'
import type { Command } from 'commander'
import { CONFIG_FILE } from '../constants.js'
import { NodeErrorCode, nodeError } from '../errors.js'

type Check = (value: unknown) => boolean

const isString: Check = value => typeof value === 'string' && value.length > 0
const isStrings: Check = value => Array.isArray(value) && value.every(isString)
const isBoolean: Check = value => typeof value === 'boolean'
const integer = (min: number, max = Number.MAX_SAFE_INTEGER): Check => value => Number.isInteger(value) && (value as number) >= min && (value as number) <= max
const oneOf = (choices: readonly string[]): Check => value => typeof value === 'string' && choices.includes(value)

/** Settings a config file may hold: `start`'s options, by their camelCase names. */
const SETTINGS: Record<string, { check: Check, expected: string }> = {
  coordinatorUrl: { check: isString, expected: 'a URL' },
  bootstrap: { check: isStrings, expected: 'a list of multiaddrs' },
  p2pPort: { check: integer(0, 65535), expected: 'a port (0-65535)' },
  host: { check: isString, expected: 'an address' },
  announce: { check: isStrings, expected: 'a list of multiaddrs' },
  engine: { check: oneOf(['auto', 'ollama', 'llamacpp']), expected: 'auto, ollama or llamacpp' },
  ollamaHost: { check: isString, expected: 'a URL' },
  models: { check: isStrings, expected: 'a list of model names' },
  modelsDir: { check: isString, expected: 'a directory' },
  pull: { check: isBoolean, expected: 'true or false' },
  demoModel: { check: isBoolean, expected: 'true or false' },
  gpu: { check: oneOf(['auto', 'cuda', 'vulkan', 'off']), expected: 'auto, cuda, vulkan or off' },
  slots: { check: integer(1, 1024), expected: 'an integer from 1 to 1024' },
  threads: { check: integer(1, 1024), expected: 'an integer from 1 to 1024' },
  minTps: { check: value => typeof value === 'number' && Number.isFinite(value) && value >= 0, expected: 'a number ≥ 0' },
  statusPort: { check: integer(0, 65535), expected: 'a port (0-65535)' },
  connectWarnMs: { check: integer(1), expected: 'milliseconds ≥ 1' },
  logLevel: { check: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), expected: 'a pino level' },
  logFormat: { check: oneOf(LOG_FORMATS), expected: LOG_FORMATS.join(', ') }
}

/** Keys starting with `_` are notes for people (`setup` writes `_comment`). */
const isNote = (key: string): boolean => key.startsWith('_')

export type NodeConfig = Record<string, unknown>

/** Reads and checks a config file; every problem is a `CONFIG_INVALID` naming the file and the setting. */
export async function readConfig (path: string): Promise<NodeConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw nodeError(NodeErrorCode.CONFIG_INVALID, `cannot read config ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)}): run \`dria-node setup\` to write one, or fix --config`, err)
  }
  let config: unknown
  try {
    config = JSON.parse(text)
  } catch (err) {
    throw nodeError(NodeErrorCode.CONFIG_INVALID, `config ${path} is not JSON (${(err as Error).message})`, err)
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw nodeError(NodeErrorCode.CONFIG_INVALID, `config ${path} must be a JSON object of settings`)
  for (const [key, value] of Object.entries(config)) {
    if (isNote(key)) continue
    const setting = SETTINGS[key]
    if (setting === undefined) throw nodeError(NodeErrorCode.CONFIG_INVALID, `config ${path}: unknown setting "${key}" (known: ${Object.keys(SETTINGS).join(', ')})`)
    if (!setting.check(value)) throw nodeError(NodeErrorCode.CONFIG_INVALID, `config ${path}: "${key}" must be ${setting.expected}, not ${JSON.stringify(value)}`)
  }
  return config as NodeConfig
}

/** Writes a config atomically (a half-written file would stop the next start). */
export async function writeConfig (path: string, config: NodeConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(config, null, 2) + '\n')
  await rename(tmp, path)
}

/** `--config`, else `<data-dir>/config.json` when it exists, else none. */
export function configPathOf (explicit: string | undefined, dataDir: string): string | undefined {
  if (explicit !== undefined) return explicit
  const implicit = join(dataDir, CONFIG_FILE)
  return existsSync(implicit) ? implicit : undefined
}

/**
 * Fills the command's options from the config where neither a flag nor an environment
 * variable set them: flags > env > config file > defaults.
 */
export function applyConfig (command: Command, config: NodeConfig): void {
  for (const option of command.options) {
    const key = option.attributeName()
    if (!Object.hasOwn(config, key) || isNote(key)) continue
    const source = command.getOptionValueSource(key)
    if (source === undefined || source === 'default') command.setOptionValueWithSource(key, config[key], 'config')
  }
}
