#!/usr/bin/env node
// `npm run demo` and `npm test` on a machine with nothing but Node.js and npm: installs the
// workspace with the pnpm release package.json pins (through npx when that pnpm is not
// installed; no corepack needed), builds, then runs the task. `pnpm demo` / `pnpm test` come
// here too and skip the install when node_modules already matches the lockfile.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ROOT, pnpmCommand } from './pnpm.js'

const root = fileURLToPath(ROOT)
const TASKS = {
  build: [],
  demo: ['scripts/demo.js'],
  test: ['node_modules/vitest/vitest.mjs', 'run'],
  'test:reliability': ['node_modules/vitest/vitest.mjs', 'run', '--config', 'vitest.reliability.config.ts'],
  bench: ['scripts/bench.js'],
  'deploy-check': ['scripts/deploy-check.js']
}
const [task, ...args] = process.argv.slice(2)
if (!Object.hasOwn(TASKS, task)) {
  process.stderr.write(`usage: node scripts/run.js ${Object.keys(TASKS).join('|')} [args...]\n`)
  process.exit(2)
}

function run (command, commandArgs, options = {}) {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32', ...options })
  if (result.error !== undefined) throw result.error
  if (result.status !== 0) process.exit(result.status ?? 1)
}

// pnpm keeps a copy of the lockfile it installed from: equal means nothing to install.
const lockfile = readFileSync(join(root, 'pnpm-lock.yaml'), 'utf8')
const installed = join(root, 'node_modules', '.pnpm', 'lock.yaml')
if (!existsSync(installed) || readFileSync(installed, 'utf8') !== lockfile) {
  const [command, prefix] = pnpmCommand()
  process.stderr.write(`installing dependencies (${[command, ...prefix].join(' ')} install)...\n`)
  run(command, [...prefix, 'install', '--frozen-lockfile'])
}
run(process.execPath, [join('node_modules', 'typescript', 'bin', 'tsc'), '-b'])
// The web console the coordinator serves (Vite, in its own package).
const dashboard = join(root, 'packages', 'dashboard')
run(process.execPath, [join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: dashboard })
run(process.execPath, [join('node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], { cwd: dashboard })
if (TASKS[task].length > 0) run(process.execPath, [...TASKS[task], ...args])
