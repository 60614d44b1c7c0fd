import { getLlama, LlamaLogLevel } from 'node-llama-cpp'
import type { Logger } from '@dria/protocol'
import type { Llama } from 'node-llama-cpp'

let shared: Promise<Llama> | undefined

/**
 * node-llama-cpp's native binding, loaded once per process (each load costs ~0.5 s) and kept
 * for the process's life. CPU only; it uses the prebuilt binaries and never builds or downloads.
 * llama.cpp's own log lines go to the logger of the first caller.
 */
export async function loadBinding (log: Logger): Promise<Llama> {
  shared ??= getLlama({
    gpu: false,
    build: 'never',
    // 0 lets each context use exactly the threads it asks for.
    maxThreads: 0,
    logLevel: LlamaLogLevel.error,
    logger: (level, message) => { log.warn({ level, message }, 'llama.cpp log') }
  })
  try {
    return await shared
  } catch (err) {
    shared = undefined
    throw err
  }
}
