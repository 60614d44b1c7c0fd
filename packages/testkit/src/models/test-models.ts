import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GENERATED_MODEL_NAME, generateTinyModel } from '@dria/engines'
import { SHARED_MODELS_DIR } from '../processes/index.js'

export type TestModelSource = 'shared' | 'generated'

export interface TestModels {
  /** Directory holding the GGUF files below: what tests pass as `--models-dir`. */
  dir: string
  source: TestModelSource
  /** Continues raw prompts; what nodes serve in most tests (stories260K, or dria-tiny). */
  main: string
  /** Another model with its own chat template (stories260K-chat, or dria-tiny-chat). */
  chat: string
  /** A different model whose greedy generations run to `max_tokens` (llama-2-tiny-random, or dria-tiny-long). */
  other: string
  /** Every model in `dir`, sorted by name. */
  names: string[]
}

const SHARED = { main: 'stories260K', chat: 'stories260K-chat', other: 'llama-2-tiny-random' }
const GENERATED = { main: GENERATED_MODEL_NAME, chat: `${GENERATED_MODEL_NAME}-chat`, other: `${GENERATED_MODEL_NAME}-long` }

function sharedModelsPresent (): boolean {
  return Object.values(SHARED).every(name => existsSync(join(SHARED_MODELS_DIR, `${name}.gguf`)))
}

/**
 * Generates the set once per machine and generator version: into a fresh directory, then
 * renamed to one named after the models' digests (a process that loses the race uses the winner's).
 */
async function generateModels (): Promise<string> {
  const fresh = await mkdtemp(join(tmpdir(), 'dria-test-models-tmp-'))
  try {
    const written = await Promise.all([
      // Byte-identical to what `dria-node start --demo-model` generates.
      generateTinyModel(join(fresh, `${GENERATED.main}.gguf`)),
      generateTinyModel(join(fresh, `${GENERATED.chat}.gguf`), { name: GENERATED.chat }),
      generateTinyModel(join(fresh, `${GENERATED.other}.gguf`), { name: GENERATED.other, seed: 2, contextLength: 2048, endsText: false })
    ])
    const key = createHash('sha256').update(written.map(w => w.digest).join()).digest('hex').slice(0, 16)
    const dir = join(tmpdir(), `dria-test-models-${key}`)
    if (!existsSync(dir)) {
      try {
        await rename(fresh, dir)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err
      }
    }
    return dir
  } finally {
    await rm(fresh, { recursive: true, force: true })
  }
}

let models: Promise<TestModels> | undefined

/**
 * The small models tests and benchmarks run on: the real ones in ../shared/models when they
 * are there, otherwise three the project generates itself, so a fresh clone runs every test.
 * `DRIA_TEST_MODELS=generated` (or `shared`) forces one source.
 */
export async function testModels (): Promise<TestModels> {
  models ??= (async () => {
    const wanted = process.env.DRIA_TEST_MODELS
    if (wanted !== undefined && wanted !== 'shared' && wanted !== 'generated') throw new Error(`DRIA_TEST_MODELS must be shared or generated, not ${wanted}`)
    const useShared = wanted === 'shared' || (wanted === undefined && sharedModelsPresent())
    if (useShared && !sharedModelsPresent()) throw new Error(`DRIA_TEST_MODELS=shared but ${SHARED_MODELS_DIR} lacks the test models`)
    const roles = useShared ? SHARED : GENERATED
    const dir = useShared ? SHARED_MODELS_DIR : await generateModels()
    return { dir, source: useShared ? 'shared' : 'generated', ...roles, names: Object.values(roles).sort() }
  })()
  return await models
}
