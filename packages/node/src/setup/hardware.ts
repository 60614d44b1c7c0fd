import { execFile } from 'node:child_process'
import { availableParallelism, freemem, totalmem } from 'node:os'
import { promisify } from 'node:util'
import { isLlamaGpuUsable } from '@dria/engines'
import type { Logger } from '@dria/protocol'

export interface GpuDevice {
  api: 'cuda' | 'vulkan'
  name: string
  /** Memory in MiB, when the tool reports it. */
  memoryMiB?: number
}

export interface Hardware {
  cores: number
  memoryBytes: number
  freeMemoryBytes: number
  gpus: GpuDevice[]
  /** GPU APIs whose llama.cpp build loads here (binaries installed and a device found). */
  llamaGpu: Array<'cuda' | 'vulkan'>
}

const TOOL_TIMEOUT_MS = 5_000

/** stdout of a tool, or undefined when it is missing or fails. */
async function run (command: string, args: string[]): Promise<string | undefined> {
  try {
    return (await promisify(execFile)(command, args, { timeout: TOOL_TIMEOUT_MS })).stdout
  } catch {
    return undefined
  }
}

/** `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits` lines. */
export function parseNvidiaSmi (stdout: string): GpuDevice[] {
  return stdout.split('\n').map(line => line.trim()).filter(line => line !== '').map(line => {
    const [name, memory] = line.split(',').map(part => part.trim())
    const memoryMiB = Number(memory)
    return { api: 'cuda' as const, name, ...(Number.isFinite(memoryMiB) && memoryMiB > 0 ? { memoryMiB } : {}) }
  })
}

/** `vulkaninfo --summary`: one `deviceName = …` per device; CPU renderers (llvmpipe) are not GPUs. */
export function parseVulkanSummary (stdout: string): GpuDevice[] {
  return [...stdout.matchAll(/deviceName\s*=\s*(.+)/g)]
    .map(match => match[1].trim())
    .filter(name => !/llvmpipe|swiftshader|software/i.test(name))
    .map(name => ({ api: 'vulkan' as const, name }))
}

/** Cores, memory, GPUs (through nvidia-smi and vulkaninfo) and which llama.cpp GPU builds work. */
export async function detectHardware (components: { logger: Logger }): Promise<Hardware> {
  const [smi, vulkan] = await Promise.all([
    run('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits']),
    run('vulkaninfo', ['--summary'])
  ])
  const gpus = [...parseNvidiaSmi(smi ?? ''), ...parseVulkanSummary(vulkan ?? '')]
  const llamaGpu: Array<'cuda' | 'vulkan'> = []
  // Loading a GPU build costs a moment; only try the APIs a device was found for.
  for (const api of ['cuda', 'vulkan'] as const) {
    if (gpus.some(gpu => gpu.api === api) && await isLlamaGpuUsable(components.logger, api)) llamaGpu.push(api)
  }
  return { cores: availableParallelism(), memoryBytes: totalmem(), freeMemoryBytes: freemem(), gpus, llamaGpu }
}
