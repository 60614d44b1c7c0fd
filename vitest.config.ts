import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const packages = ['protocol', 'p2p', 'engines', 'node', 'coordinator', 'cli', 'testkit']
const src = (pkg: string, file = 'index.ts'): string =>
  fileURLToPath(new URL(`./packages/${pkg}/src/${file}`, import.meta.url))

export default defineConfig({
  resolve: {
    // Tests run against sources; e2e tests spawn the built binaries.
    alias: [
      { find: '@dria/protocol/polyfill', replacement: src('protocol', 'polyfill.ts') },
      ...packages.map(pkg => ({ find: new RegExp(`^@dria/${pkg}$`), replacement: src(pkg) }))
    ]
  },
  test: {
    setupFiles: [src('protocol', 'polyfill.ts')],
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks'
  }
})
