import { defineConfig } from 'vitest/config'
import base from './vitest.config.js'

/** `pnpm test:reliability`: crash campaign, hostile corpus, races and load against real processes. */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['packages/coordinator/test/reliability/**/*.reliability.ts'],
    testTimeout: 300_000,
    hookTimeout: 180_000,
    // One file at a time: each starts its own processes on a 2-core machine.
    fileParallelism: false
  }
})
