import { fileURLToPath } from 'node:url'

/** Where `pnpm build` puts the built web console; absent when only the back end was built. */
export const assetsDir = fileURLToPath(new URL('./dist/', import.meta.url))
