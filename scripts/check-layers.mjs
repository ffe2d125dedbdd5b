#!/usr/bin/env node
/**
 * The layer rule of docs/architecture.md, enforced (run by `npm run lint`):
 * every module under src/ belongs to a layer, a layer imports only the
 * layers listed before it (and itself), the app SDK (src/client) imports
 * only what it is allowed to, and no import cycle exists between modules.
 * Imports are read from the source text (static `import … from` and
 * `export … from`, and `import('…')`), so type-only imports count too: a
 * type cycle is still a cycle for a reader.
 *
 *   node scripts/check-layers.mjs [--graph]   exit 1 and a list of violations, or 0
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const SRC = join(ROOT, 'src')

/** Layers, top first. A module may import its own layer and the layers above it. */
export const LAYERS = [
  ['platform', ['platform/']],
  ['base', ['shim.ts', 'errors.ts', 'error-status.ts', 'ids.ts', 'log.ts', 'protocol-schemas.ts', 'serial.ts']],
  ['identity', ['identity/']],
  ['commits', ['commits/']],
  ['objects', ['objects/']],
  ['permissions', ['permissions/']],
  ['encryption', ['encryption/']],
  ['store', ['store/']],
  ['interfaces', ['interfaces/']],
  ['hub', ['hub-config-core.ts', 'hub-config.ts', 'hub-events.ts', 'hub-home.ts', 'hub-home-node.ts', 'hub-home-web.ts', 'hub.ts']],
  ['backup', ['backup/']],
  ['net', ['net/']],
  ['request', ['request/']],
  ['client', ['client/']],
  ['org', ['org/']],
  ['http', ['http/']],
  ['daemon', ['daemon/']],
  ['compose', ['compose.ts']],
  ['browser', ['browser/']],
  ['cli', ['cli/']],
  ['entry', ['index.ts', 'net-entry.ts']],
  // The dashboard page (issue 16): browser code talking HTTP to its hub; it imports nothing of src/ outside itself.
  ['dashboard-page', ['dashboard/']]
]

/** What the app SDK may import besides itself: no store, no hub, no node-side parts. */
export const CLIENT_MAY_IMPORT = new Set(['platform', 'base', 'identity', 'commits', 'objects', 'permissions', 'encryption', 'client'])
/** Modules of other layers the SDK shares (wire formats), by path. */
export const CLIENT_SHARED = [/^net\/(channel|constants|messages|node|shim)\.ts$/, /^request\/token\.ts$/, /^store\/query-types\.ts$/, /^interfaces\/views\.ts$/]

/**
 * Known violations, each with the reason it is still there. They are printed
 * on every run, so they stay visible until they are gone.
 */
export const KNOWN = []

export function layerOf (rel) {
  for (let i = 0; i < LAYERS.length; i++) {
    const [name, prefixes] = LAYERS[i]
    if (prefixes.some(p => p.endsWith('/') ? rel.startsWith(p) : rel === p)) return { name, index: i }
  }
  return undefined
}

function walk (dir) {
  const out = []
  for (const e of readdirSync(dir)) {
    const p = join(dir, e)
    if (statSync(p).isDirectory()) out.push(...walk(p))
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('.d.ts')) out.push(p)
  }
  return out
}

/** Relative module paths (from src/) that `file` imports. */
export function importsOf (file, text = readFileSync(file, 'utf8')) {
  const out = new Set()
  const re = /(?:^|\n)\s*(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g
  for (const m of text.matchAll(re)) {
    const spec = m[1] ?? m[2] ?? m[3]
    if (spec === undefined || !spec.startsWith('.')) continue
    const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'))
    out.add(relative(SRC, target).split('\\').join('/'))
  }
  return [...out]
}

/** Every violation of the rules in a module graph `{ rel: [imported rel…] }`. */
export function check (graph) {
  const problems = []
  for (const [from, tos] of Object.entries(graph)) {
    const lf = layerOf(from)
    if (lf === undefined) { problems.push(`${from}: in no layer (add it to LAYERS in scripts/check-layers.mjs and to docs/architecture.md)`); continue }
    for (const to of tos) {
      const lt = layerOf(to)
      if (lt === undefined) continue
      if (lf.name === 'client') {
        if (!CLIENT_MAY_IMPORT.has(lt.name) && !CLIENT_SHARED.some(r => r.test(to))) problems.push(`${from} → ${to}: the app SDK may not import ${lt.name}/`)
        continue
      }
      if (lt.index > lf.index && !KNOWN.some(k => k.from.test(from) && k.to.test(to))) problems.push(`${from} → ${to}: ${lf.name} may not import ${lt.name} (a lower layer)`)
    }
  }
  // Cycles between modules (Tarjan's strongly connected components).
  let index = 0
  const idx = new Map(); const low = new Map(); const stack = []; const on = new Set()
  const strong = (v) => {
    idx.set(v, index); low.set(v, index); index++; stack.push(v); on.add(v)
    for (const w of graph[v] ?? []) {
      if (!(w in graph)) continue
      if (!idx.has(w)) { strong(w); low.set(v, Math.min(low.get(v), low.get(w))) } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)))
    }
    if (low.get(v) === idx.get(v)) {
      const comp = []
      let w
      do { w = stack.pop(); on.delete(w); comp.push(w) } while (w !== v)
      if (comp.length > 1) problems.push(`import cycle: ${comp.sort().join(' ↔ ')}`)
    }
  }
  for (const v of Object.keys(graph)) if (!idx.has(v)) strong(v)
  return problems
}

export function graphOf (dir = SRC) {
  const graph = {}
  for (const f of walk(dir)) graph[relative(dir, f).split('\\').join('/')] = importsOf(f)
  return graph
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const graph = graphOf()
  if (process.argv.includes('--graph')) {
    const edges = new Map()
    for (const [from, tos] of Object.entries(graph)) for (const to of tos) {
      const a = layerOf(from)?.name; const b = layerOf(to)?.name
      if (a !== b) edges.set(`${a} → ${b}`, (edges.get(`${a} → ${b}`) ?? 0) + 1)
    }
    for (const [e, n] of [...edges].sort()) console.log(`${e} (${n})`)
  }
  const problems = check(graph)
  for (const k of KNOWN) {
    const hits = Object.entries(graph).flatMap(([from, tos]) => k.from.test(from) ? tos.filter(t => k.to.test(t)).map(t => `${from} → ${t}`) : [])
    if (hits.length > 0) console.error(`known layer violation (${hits.length}): ${k.why}`)
  }
  for (const p of problems) console.error(p)
  if (problems.length > 0) {
    console.error(`\n${problems.length} layer problem(s); the rules: docs/architecture.md "Layers", scripts/check-layers.mjs`)
    process.exit(1)
  }
}
