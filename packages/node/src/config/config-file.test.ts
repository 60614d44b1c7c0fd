import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command, Option } from 'commander'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isDriaError } from '@dria/protocol'
import { applyConfig, configPathOf, readConfig, writeConfig } from './config-file.js'

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dria-config-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

async function code (promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (err) {
    if (isDriaError(err)) return err.code
    throw err
  }
  throw new Error('expected an error')
}

describe('config file', () => {
  it('round-trips what setup writes, notes included', async () => {
    const path = join(dir, 'sub', 'config.json')
    const config = { _comment: 'written by setup', engine: 'ollama', models: ['llama3.2'], slots: 8, demoModel: false, minTps: 2.5 }
    await writeConfig(path, config)
    expect(await readConfig(path)).toEqual(config)
  })

  it('refuses missing files, non-JSON, unknown and mistyped settings with CONFIG_INVALID', async () => {
    expect(await code(readConfig(join(dir, 'none.json')))).toBe('CONFIG_INVALID')
    for (const text of ['{', '[]', '{"slot": 4}', '{"slots": "4"}', '{"engine": "vllm"}', '{"bootstrap": "/ip4/1.2.3.4"}', '{"p2pPort": 70000}']) {
      await writeFile(join(dir, 'c.json'), text)
      expect(await code(readConfig(join(dir, 'c.json')))).toBe('CONFIG_INVALID')
    }
  })

  it('fills only options that no flag or environment variable set', () => {
    process.env.DRIA_TEST_SLOTS = '6'
    try {
      const command = new Command('start').exitOverride()
        .addOption(new Option('--engine <e>').default('auto'))
        .addOption(new Option('--slots <n>').env('DRIA_TEST_SLOTS').default('4'))
        .addOption(new Option('--models <m>'))
        .addOption(new Option('--host <h>').default('127.0.0.1'))
      command.parse(['--host', '0.0.0.0'], { from: 'user' })
      applyConfig(command, { engine: 'ollama', slots: 8, models: ['a'], host: '10.0.0.1', _comment: 'x' })
      expect(command.opts()).toEqual({ engine: 'ollama', slots: '6', models: ['a'], host: '0.0.0.0' })
    } finally {
      delete process.env.DRIA_TEST_SLOTS
    }
  })

  it('uses --config, else <data-dir>/config.json only when it exists', async () => {
    expect(configPathOf('/etc/dria/node.json', dir)).toBe('/etc/dria/node.json')
    expect(configPathOf(undefined, dir)).toBeUndefined()
    await writeFile(join(dir, 'config.json'), '{}')
    expect(configPathOf(undefined, dir)).toBe(join(dir, 'config.json'))
  })
})
