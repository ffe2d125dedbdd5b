/**
 * Automerge's wasm under Node (the `#platform/automerge` seam), compiled
 * on its first use instead of at import (issue 18: an idle `hub start`
 * holds no Automerge; its wasm was ~15 MiB of the started hub's RSS).
 *
 * The package's default Node entry compiles and instantiates the wasm the
 * moment it is imported. Its `slim` entry is the same library with no
 * backend: every call into the wasm goes through one table of 13 functions
 * (create, load, decodeChange, …), filled by `use(api)`. This installs a
 * table whose functions, on the first call of any of them, load the very
 * binding the default entry loads (`nodejs/automerge_wasm.cjs`, which reads
 * and compiles the wasm synchronously, as that entry does at import), put
 * it in the table and forward the call. So every Automerge call, on any
 * path, sync or not, finds the backend there — nothing has to remember to
 * load it first — and later calls go to the binding directly.
 *
 * Same module instance as the default entry: a process that also imports
 * `@automerge/automerge` (tests, an app) gets the binding from Node's
 * module cache, so documents of one wasm instance are never handed to
 * another. If that import came first, its backend is kept.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { isWasmInitialized, use } from '@automerge/automerge/slim'

type Api = Parameters<typeof use>[0]
type AnyFn = (...args: unknown[]) => unknown

/** Every function of the table (typed: a function added to it in a new Automerge fails the build here). */
const API_FUNCTIONS: Record<keyof Api, true> = {
  create: true,
  load: true,
  encodeChange: true,
  decodeChange: true,
  initSyncState: true,
  encodeSyncMessage: true,
  decodeSyncMessage: true,
  encodeSyncState: true,
  decodeSyncState: true,
  exportSyncState: true,
  importSyncState: true,
  readBundle: true,
  wasmReleaseInfo: true
}

let backend: Api | undefined

/** The wasm binding, loaded (and put in Automerge's table) on the first call. */
function loadBackend (): Api {
  if (backend !== undefined) return backend
  const require = createRequire(import.meta.url)
  // `automerge.wasm` is the package's one exported path into dist/; the binding sits beside it (3.x layout).
  const dist = dirname(require.resolve('@automerge/automerge/automerge.wasm'))
  backend = require(join(dist, 'mjs', 'wasm_bindgen_output', 'nodejs', 'automerge_wasm.cjs')) as Api
  use(backend)
  return backend
}

/** Whether Automerge's wasm is compiled: false until the first Automerge call (true if the package's default entry had already loaded it). */
export function automergeLoaded (): boolean {
  return backend !== undefined || !lazyInstalled
}

let lazyInstalled = false
if (!isWasmInitialized()) {
  const lazy: Record<string, AnyFn> = {}
  for (const name of Object.keys(API_FUNCTIONS) as Array<keyof Api>) {
    lazy[name] = (...args) => (loadBackend()[name] as AnyFn)(...args)
  }
  use(lazy as unknown as Api)
  lazyInstalled = true
}
