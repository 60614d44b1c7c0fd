// `pnpm bench <name> [args]`: runs one benchmark (or all) and prints its table.
import '../packages/protocol/dist/polyfill.js'

const BENCHMARKS = {
  node: '../packages/bench/dist/node.js',
  network: '../packages/bench/dist/network.js',
  ingest: '../packages/bench/dist/ingest.js',
  scale: '../packages/bench/dist/scale.js',
  console: '../packages/bench/dist/console.js',
  sampler: '../packages/bench/dist/sampler.js',
  cli: '../packages/bench/dist/cli.js',
  scheduling: '../packages/bench/dist/scheduling.js',
  verification: '../packages/bench/dist/verification.js',
  'blob-store': '../packages/bench/dist/blob-store.js',
  'scale-out': '../packages/bench/dist/scale-out.js'
}

const [name, ...args] = process.argv.slice(2)
const selected = name === undefined || name === 'all' ? Object.keys(BENCHMARKS) : [name]
for (const key of selected) {
  const path = BENCHMARKS[key]
  if (path === undefined) {
    process.stderr.write(`unknown benchmark "${key}"; choose one of: ${Object.keys(BENCHMARKS).join(', ')}, all\n`)
    process.exit(2)
  }
  process.stdout.write(`\n## ${key}\n`)
  const { main } = await import(path)
  await main(args)
}
