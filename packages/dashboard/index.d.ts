/** Where `pnpm build` puts the built web console; absent when only the back end was built. */
export declare const assetsDir: string
