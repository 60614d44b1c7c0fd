#!/usr/bin/env node
// Brings node-llama-cpp's prebuilt CUDA or Vulkan binaries into this checkout (they are left
// out by default: pnpm-workspace.yaml `ignoredOptionalDependencies`, ~700 MB for CUDA):
//   node scripts/install-gpu.js cuda|vulkan [--lockfile-only]
// It takes that backend's packages off the ignore list and runs `pnpm install`. Undo with
//   git checkout pnpm-workspace.yaml pnpm-lock.yaml && pnpm install
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ROOT, pnpmCommand } from './pnpm.js'

const BACKENDS = {
  cuda: ['linux-x64-cuda', 'linux-x64-cuda-ext', 'win-x64-cuda', 'win-x64-cuda-ext'],
  vulkan: ['linux-x64-vulkan', 'win-x64-vulkan']
}
const [backend, ...flags] = process.argv.slice(2)
if (!Object.hasOwn(BACKENDS, backend)) {
  process.stderr.write('usage: node scripts/install-gpu.js cuda|vulkan [--lockfile-only]\n')
  process.exit(2)
}

const workspace = new URL('pnpm-workspace.yaml', ROOT)
const packages = new Set(BACKENDS[backend].map(name => `@node-llama-cpp/${name}`))
const lines = readFileSync(workspace, 'utf8').split('\n')
const kept = lines.filter(line => !packages.has(line.trim().replace(/^- /, '').replace(/^["']|["']$/g, '')))
if (kept.length === lines.length) {
  process.stdout.write(`pnpm-workspace.yaml already lets ${backend} binaries install\n`)
} else {
  writeFileSync(workspace, kept.join('\n'))
  process.stdout.write(`pnpm-workspace.yaml: no longer ignoring ${[...packages].join(', ')}\n`)
}
const [command, prefix] = pnpmCommand()
const result = spawnSync(command, [...prefix, 'install', '--no-frozen-lockfile', ...flags.filter(flag => flag === '--lockfile-only')], { cwd: fileURLToPath(ROOT), stdio: 'inherit', shell: process.platform === 'win32' })
if (result.status !== 0) process.exit(result.status ?? 1)
process.stdout.write(`done: start the node with --gpu ${backend} (or --gpu auto), \`dria-node setup\` shows whether llama.cpp finds the GPU.\n` +
  'undo: git checkout pnpm-workspace.yaml pnpm-lock.yaml && pnpm install\n')
