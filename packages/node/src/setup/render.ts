import type { ModelBenchmark } from './benchmark.js'
import type { Hardware } from './hardware.js'
import type { SetupReport } from './setup.js'

const GIB = 1024 ** 3
const number = (n: number): string => Math.round(n).toLocaleString('en-US')

function renderHardware (hardware: Hardware): string[] {
  const lines = [`machine: ${hardware.cores} cores, ${(hardware.memoryBytes / GIB).toFixed(1)} GiB memory (${(hardware.freeMemoryBytes / GIB).toFixed(1)} GiB free)`]
  if (hardware.gpus.length === 0) lines.push('  GPU: none found (nvidia-smi, vulkaninfo): llama.cpp runs on the CPU')
  for (const gpu of hardware.gpus) {
    const usable = hardware.llamaGpu.includes(gpu.api)
    lines.push(`  GPU: ${gpu.name}${gpu.memoryMiB !== undefined ? ` (${number(gpu.memoryMiB)} MiB)` : ''} via ${gpu.api}: ` +
      (usable ? 'llama.cpp uses it (--gpu auto)' : `llama.cpp's ${gpu.api} build is not installed: node scripts/install-gpu.js ${gpu.api}`))
  }
  return lines
}

export function renderBenchmark (results: ModelBenchmark[]): string[] {
  const rows = results.map(r => [r.name, r.kind === 'embedding' ? 'embedding (not measured)' : `${number(r.tokensPerSecond)} tokens/s`, r.kind === 'embedding' ? '' : `(${number(r.min)}-${number(r.max)} over ${r.rounds} rounds)`])
  const widths = [0, 1].map(i => Math.max(...rows.map(r => r[i].length)))
  return rows.map(r => `  ${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  ${r[2]}`.trimEnd())
}

/** What `dria-node setup` found and did, for a person. */
export function renderSetup (report: SetupReport): string {
  const served = report.models.filter(m => m.served)
  return [
    ...renderHardware(report.hardware),
    `looked in: ${report.tried}`,
    `engine: ${report.engine}`,
    'models (single-sequence speed, median):',
    ...renderBenchmark(report.models).map((line, i) => report.models[i].served ? line : `${line}  not served: ${report.models[i].reason ?? ''}`),
    `wrote ${report.configPath}: ${report.engine}, serving ${served.map(m => m.name).join(', ')}`,
    `next: dria-node start --config ${report.configPath}${Array.isArray(report.config.bootstrap) || report.config.coordinatorUrl !== undefined ? '' : ' --coordinator-url <coordinator URL>'}`
  ].join('\n')
}
