import { access, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { GENERATED_MODEL_NAME } from './constants.js'
import { generateTinyModel } from './tiny-model.js'

/** Returns `<dir>/dria-tiny.gguf`, generating it (and `dir`) only if it is missing. */
export async function ensureGeneratedModel (dir: string): Promise<string> {
  const path = join(dir, `${GENERATED_MODEL_NAME}.gguf`)
  try {
    await access(path)
    return path
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await mkdir(dir, { recursive: true })
  // Concurrent callers may both generate; the atomic rename makes the result the same file.
  await generateTinyModel(path)
  return path
}
