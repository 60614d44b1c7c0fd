import { DriaError } from '@dria/protocol'
import { getLlama, LlamaLogLevel } from 'node-llama-cpp'
import { EngineErrorCode } from '../errors.js'
import type { Logger } from '@dria/protocol'
import type { Llama } from 'node-llama-cpp'

/** `auto` uses CUDA or Vulkan when their prebuilt binaries and a device are there, else the CPU. */
export type GpuChoice = 'auto' | 'cuda' | 'vulkan' | 'off'

const loaded = new Map<GpuChoice, Promise<Llama>>()

/**
 * node-llama-cpp's native binding, loaded once per process and GPU choice (each load costs
 * ~0.5 s) and kept for the process's life. It uses the prebuilt binaries and never builds or
 * downloads; the GPU ones are installed only on request (see the README). llama.cpp's own
 * log lines go to the logger of the first caller.
 */
export async function loadBinding (log: Logger, gpu: GpuChoice = 'off'): Promise<Llama> {
  let binding = loaded.get(gpu)
  if (binding === undefined) {
    binding = getLlama({
      gpu: gpu === 'off' ? false : gpu,
      build: 'never',
      // 0 lets each context use exactly the threads it asks for.
      maxThreads: 0,
      logLevel: LlamaLogLevel.error,
      logger: (level, message) => { log.warn({ level, message }, 'llama.cpp log') }
    })
    loaded.set(gpu, binding)
  }
  try {
    return await binding
  } catch (err) {
    loaded.delete(gpu)
    if (gpu === 'cuda' || gpu === 'vulkan') {
      throw new DriaError(EngineErrorCode.GPU_UNAVAILABLE, `llama.cpp cannot use ${gpu} here: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    throw err
  }
}

/** Whether llama.cpp's `gpu` build loads here: its prebuilt binaries are installed and find a device. */
export async function isLlamaGpuUsable (log: Logger, gpu: 'cuda' | 'vulkan'): Promise<boolean> {
  try {
    const llama = await loadBinding(log, gpu)
    return llama.gpu === gpu
  } catch {
    return false
  }
}
