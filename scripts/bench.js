// `pnpm bench <name> [args]`: runs one benchmark (or all) and prints its table.
import '../packages/protocol/dist/polyfill.js'

const BENCHMARKS = {
  node: '../bench/dist/node.js',
  network: '../bench/dist/network.js',
  ingest: '../bench/dist/ingest.js',
  scale: '../bench/dist/scale.js',
  console: '../bench/dist/console.js',
  sampler: '../bench/dist/sampler.js',
  cli: '../bench/dist/cli.js',
  scheduling: '../bench/dist/scheduling.js',
  verification: '../bench/dist/verification.js',
  'blob-store': '../bench/dist/blob-store.js',
  'scale-out': '../bench/dist/scale-out.js'
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
