#!/usr/bin/env node
/**
 * The browser build (issue 15): esbuild bundles of the isomorphic code as a
 * browser resolves it — package.json "imports" under the `browser`
 * condition (#platform/* → the *-web.ts variants), libp2p's browser
 * entries — as ES modules.
 *
 * Automerge: its `browser` entry imports the .wasm file as an ES module,
 * which only wasm-aware bundlers (webpack, Vite with a plugin) understand.
 * We resolve `@automerge/automerge` to a small module that loads the
 * package's slim build and instantiates `automerge.wasm` (copied next to the
 * bundle) with top-level await, so the JavaScript stays small and the wasm
 * is compiled while it streams. Apps bundling the SDK themselves do the
 * same (docs/browser.md).
 *
 * Used by `npm run build` (the shipped bundles in dist/browser/) and by the
 * browser tests (test/browser/harness.ts) for their test pages.
 */
import { build } from 'esbuild'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(ROOT, 'package.json'))
const AUTOMERGE_DIST = dirname(require.resolve('@automerge/automerge/automerge.wasm'))

/** The module `@automerge/automerge` resolves to in a browser bundle. */
const AUTOMERGE_SHIM = `
import * as Automerge from ${JSON.stringify(join(AUTOMERGE_DIST, 'mjs/entrypoints/slim.js'))}
await Automerge.initializeWasm(fetch(new URL('./automerge.wasm', import.meta.url)))
export * from ${JSON.stringify(join(AUTOMERGE_DIST, 'mjs/entrypoints/slim.js'))}
`

const automergeWasm = {
  name: 'automerge-wasm',
  setup (b) {
    b.onResolve({ filter: /^@automerge\/automerge$/ }, () => ({ path: 'automerge-shim', namespace: 'automerge-shim' }))
    b.onLoad({ filter: /.*/, namespace: 'automerge-shim' }, () => ({ contents: AUTOMERGE_SHIM, loader: 'js', resolveDir: ROOT }))
  }
}

/** esbuild options shared by every browser bundle. */
export function browserBuildOptions ({ entryPoints, outdir, minify = true }) {
  return {
    entryPoints,
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    splitting: true,
    minify,
    sourcemap: true,
    metafile: true,
    conditions: ['identity-hub-source', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    logLevel: 'warning',
    plugins: [automergeWasm],
    define: { 'process.env.NODE_DEBUG': 'undefined', global: 'globalThis' }
  }
}

/** Bundle `entryPoints` into `outdir`, with automerge.wasm beside them. Returns esbuild's metafile. */
export async function buildBrowser ({ entryPoints, outdir, minify = true }) {
  mkdirSync(outdir, { recursive: true })
  const result = await build(browserBuildOptions({ entryPoints, outdir, minify }))
  copyFileSync(join(AUTOMERGE_DIST, 'automerge.wasm'), join(outdir, 'automerge.wasm'))
  return result.metafile
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outdir = resolve(ROOT, 'dist/browser')
  const metafile = await buildBrowser({ entryPoints: { client: resolve(ROOT, 'src/client/index.ts') }, outdir })
  writeFileSync(join(outdir, 'meta.json'), JSON.stringify(metafile))
}
