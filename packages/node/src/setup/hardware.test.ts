import { describe, expect, it } from 'vitest'
import { parseNvidiaSmi, parseVulkanSummary } from './hardware.js'

describe('GPU detection output', () => {
  it('reads nvidia-smi CSV lines', () => {
    expect(parseNvidiaSmi('NVIDIA GeForce RTX 4090, 24564\nNVIDIA A100-SXM4-80GB, 81920\n')).toEqual([
      { api: 'cuda', name: 'NVIDIA GeForce RTX 4090', memoryMiB: 24564 },
      { api: 'cuda', name: 'NVIDIA A100-SXM4-80GB', memoryMiB: 81920 }
    ])
    expect(parseNvidiaSmi('')).toEqual([])
  })

  it('reads vulkaninfo --summary devices, leaving out CPU renderers', () => {
    const summary = [
      'Devices:', '========', 'GPU0:', '\tapiVersion         = 1.3.260', '\tdeviceName         = AMD Radeon RX 7900 XTX (RADV NAVI31)',
      'GPU1:', '\tdeviceName         = llvmpipe (LLVM 15.0.6, 256 bits)'
    ].join('\n')
    expect(parseVulkanSummary(summary)).toEqual([{ api: 'vulkan', name: 'AMD Radeon RX 7900 XTX (RADV NAVI31)' }])
  })
})
