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
 * Ajv: the hub compiles its protocol schemas at run time (`new Function`),
 * which a page with a strict Content-Security-Policy (no 'unsafe-eval')
 * forbids. The browser build swaps src/protocol-schemas.ts for Ajv's
 * standalone code of the very same schemas with the very same options,
 * generated here: same validators, no eval, and no Ajv compiler in the
 * bundle.
 *
 * Used by `npm run build` (the shipped bundles in dist/browser/) and by the
 * browser tests (test/browser/harness.ts) for their test pages.
 */
import { build } from 'esbuild'
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

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

export const PROTOCOL_SCHEMAS = ['commit-header', 'commit-envelope', 'sync', 'pair', 'request']

/**
 * src/protocol-schemas.ts for a browser: `protocolValidator(ref)` over Ajv
 * standalone validators of every schema and every definition in
 * protocols/*.schema.json (Ajv options as in the source module).
 */
export function protocolSchemasModule () {
  const { Ajv } = require('ajv')
  const standaloneCode = require('ajv/dist/standalone').default
  const ajv = new Ajv({ strict: true, strictTypes: false, strictRequired: false, code: { source: true, esm: true } })
  const refs = []
  for (const name of PROTOCOL_SCHEMAS) {
    const schema = JSON.parse(readFileSync(join(ROOT, 'protocols', `${name}.schema.json`), 'utf8'))
    ajv.addSchema(schema)
    refs.push(schema.$id)
    for (const def of Object.keys(schema.definitions ?? {})) refs.push(`${schema.$id}#/definitions/${def}`)
  }
  let code = standaloneCode(ajv, Object.fromEntries(refs.map((r, i) => [`v${i}`, r])))
  // Ajv's runtime helpers are CommonJS requires even in ESM output: make them imports.
  const imports = []
  // The helper is `exports.default`; what a default import of CommonJS yields differs between
  // Node (module.exports) and esbuild (exports.default when __esModule is set): accept both.
  code = code.replace(/require\("([^"]+)"\)\.default/g, (_, spec) => {
    const n = imports.length
    imports.push(`import * as __ns${n} from ${JSON.stringify(spec.endsWith('.js') ? spec : spec + '.js')}\nconst __rt${n} = typeof __ns${n}.default === 'function' ? __ns${n}.default : __ns${n}.default.default`)
    return `__rt${n}`
  })
  if (/\brequire\(/.test(code)) throw new Error('Ajv standalone code still requires a module: extend protocolSchemasModule')
  return `${imports.join('\n')}\n${code}
const VALIDATORS = { ${refs.map((r, i) => `${JSON.stringify(r)}: v${i}`).join(', ')} }
export const PROTOCOL_REFS = Object.keys(VALIDATORS)
export function protocolValidator (ref) {
  const v = VALIDATORS[ref]
  if (v === undefined) throw new Error('schema ' + ref + ' missing')
  return v
}
`
}

const protocolSchemas = {
  name: 'protocol-schemas-standalone',
  setup (b) {
    const source = join(ROOT, 'src', 'protocol-schemas.ts')
    b.onResolve({ filter: /protocol-schemas\.js$/ }, args => {
      const target = resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts'))
      return target === source ? { path: 'protocol-schemas', namespace: 'protocol-schemas' } : undefined
    })
    b.onLoad({ filter: /.*/, namespace: 'protocol-schemas' }, () => ({ contents: protocolSchemasModule(), loader: 'js', resolveDir: ROOT }))
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
    plugins: [automergeWasm, protocolSchemas],
    // abstract-level (under browser-level, the hub-in-a-tab store) needs node:events' EventEmitter.
    alias: { events: resolve(ROOT, 'src/browser/events-shim.ts') },
    define: { 'process.env.NODE_DEBUG': 'undefined', global: 'globalThis' }
  }
}

/**
 * Size budgets of the shipped bundles, gzipped (level 9), in bytes
 * (docs/browser.md "Size"). `initial` is what a page loads before it first
 * connects (the entry and its static imports: Automerge's JS, the
 * request/commit code, the standalone schema validators); `total` adds the chunks loaded on
 * the first connect (libp2p, WebSockets, Noise, Yamux, identify). The wasm
 * is Automerge's own release build, budgeted separately so a debug build
 * cannot slip in. Measured at the time of writing: client initial 61.6 KiB,
 * total 198.2 KiB, wasm 1,117 KiB (3,559 KiB raw).
 */
export const BUDGETS = {
  client: { initial: 80 * 1024, total: 224 * 1024 },
  wasm: 1200 * 1024
}

const gz = file => gzipSync(readFileSync(file), { level: 9 }).length

/**
 * Gzipped sizes per entry from esbuild's metafile: `initial` follows static
 * imports only, `total` dynamic imports too. Source maps are not counted.
 */
export function bundleSizes (metafile, outdir, names) {
  const outputs = metafile.outputs
  const closure = (start, dynamic) => {
    const seen = new Set()
    const stack = [start]
    while (stack.length > 0) {
      const o = stack.pop()
      if (seen.has(o)) continue
      seen.add(o)
      for (const i of outputs[o]?.imports ?? []) {
        if (i.external !== true && (i.kind === 'import-statement' || (dynamic && i.kind === 'dynamic-import'))) stack.push(i.path)
      }
    }
    return [...seen]
  }
  const sum = files => files.reduce((n, f) => n + gz(resolve(f)), 0)
  const entries = {}
  for (const [out, meta] of Object.entries(outputs)) {
    // Dynamic-import chunks are entry points to esbuild too: keep the named entries.
    const name = out.slice(out.lastIndexOf('/') + 1, -'.js'.length)
    if (meta.entryPoint === undefined || !out.endsWith('.js') || !names.includes(name)) continue
    entries[name] = { initial: sum(closure(out, false)), total: sum(closure(out, true)) }
  }
  const wasm = join(outdir, 'automerge.wasm')
  return { entries, wasm: { bytes: readFileSync(wasm).length, gzip: gz(wasm) } }
}

/** Problems with `sizes` against BUDGETS, one line each (none: within budget). */
export function overBudget (sizes) {
  const kib = n => `${(n / 1024).toFixed(1)} KiB`
  const problems = []
  for (const [name, s] of Object.entries(sizes.entries)) {
    const b = BUDGETS[name]
    if (b === undefined) continue
    for (const k of ['initial', 'total']) if (s[k] > b[k]) problems.push(`${name}: ${k} JS is ${kib(s[k])} gzipped, over its budget of ${kib(b[k])}`)
  }
  if (sizes.wasm.gzip > BUDGETS.wasm) problems.push(`automerge.wasm is ${kib(sizes.wasm.gzip)} gzipped, over its budget of ${kib(BUDGETS.wasm)}`)
  return problems
}

/** Bundle `entryPoints` into `outdir`, with automerge.wasm beside them. Returns esbuild's metafile. */
export async function buildBrowser ({ entryPoints, outdir, minify = true, clean = false }) {
  // Chunk names are content hashes: without a clean, old chunks pile up (and would be counted).
  if (clean) rmSync(outdir, { recursive: true, force: true })
  mkdirSync(outdir, { recursive: true })
  const result = await build(browserBuildOptions({ entryPoints, outdir, minify }))
  copyFileSync(join(AUTOMERGE_DIST, 'automerge.wasm'), join(outdir, 'automerge.wasm'))
  return result.metafile
}

/** The shipped entry points: the SDK, and the hub in a tab once it exists (src/browser/index.ts). */
function shippedEntries () {
  const entries = { client: resolve(ROOT, 'src/client/index.ts') }
  const hub = resolve(ROOT, 'src/browser/index.ts')
  if (existsSync(hub)) entries.hub = hub
  return entries
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outdir = resolve(ROOT, 'dist/browser')
  const entryPoints = shippedEntries()
  const metafile = await buildBrowser({ entryPoints, outdir, clean: true })
  writeFileSync(join(outdir, 'meta.json'), JSON.stringify(metafile))
  const sizes = bundleSizes(metafile, outdir, Object.keys(entryPoints))
  writeFileSync(join(outdir, 'size.json'), JSON.stringify({ budgets: BUDGETS, ...sizes }, null, 2) + '\n')
  const kib = n => `${(n / 1024).toFixed(1)} KiB`
  for (const [name, s] of Object.entries(sizes.entries)) {
    const b = BUDGETS[name]
    console.log(`dist/browser/${name}.js: ${kib(s.initial)} gzipped before the first connect, ${kib(s.total)} with the network stack${b !== undefined ? ` (budgets ${kib(b.initial)} / ${kib(b.total)})` : ''}`)
  }
  console.log(`dist/browser/automerge.wasm: ${kib(sizes.wasm.bytes)}, ${kib(sizes.wasm.gzip)} gzipped (budget ${kib(BUDGETS.wasm)})`)
  const problems = overBudget(sizes)
  if (problems.length > 0) {
    for (const p of problems) console.error(`size budget exceeded: ${p}`)
    process.exit(1)
  }
}
