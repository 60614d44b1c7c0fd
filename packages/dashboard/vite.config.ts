import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const page = (name: string): string => fileURLToPath(new URL(`./src/${name}`, import.meta.url))

// Two pages: the console (/) and the public network dashboard (/network), sharing chunks.
export default defineConfig({
  root: 'src',
  base: '/',
  publicDir: false,
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // Inline scripts and data: URIs would need a weaker Content-Security-Policy.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
    rollupOptions: {
      input: { console: page('index.html'), network: page('network.html') }
    }
  }
})
