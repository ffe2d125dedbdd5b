/**
 * Test page: the KvStore conformance cases (src/store/kv-conformance-cases.ts)
 * against BrowserKv (IndexedDB) inside Chromium, with a small in-page
 * runner. `window.__runKv()` returns one result per case, by name.
 */
import { KV_CONFORMANCE_CASES, type KvExpect } from '../../../src/store/kv-conformance-cases.js'
import { BrowserKv } from '../../../src/store/browser-kv.js'
import { HubError } from '../../../src/errors.js'
import type { KvOp, KvRange, KvStore } from '../../../src/store/kv.js'
import { BrowserLevel } from 'browser-level'

function equal (a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]))
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a)
    const kb = Object.keys(b)
    return ka.length === kb.length && ka.every(k => equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  }
  return false
}

const show = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => x === undefined ? '<undefined>' : x)

const expect: KvExpect = actual => ({
  toBe: expected => { if (!Object.is(actual, expected)) throw new Error(`expected ${show(actual)} to be ${show(expected)}`) },
  toEqual: expected => { if (!equal(actual, expected)) throw new Error(`expected ${show(actual)} to equal ${show(expected)}`) },
  toBeUndefined: () => { if (actual !== undefined) throw new Error(`expected ${show(actual)} to be undefined`) }
})

let n = 0
const fresh = async (): Promise<BrowserKv> => await BrowserKv.open(`conformance-${Date.now()}-${n++}`)

async function runKv (): Promise<Array<{ name: string, ok: boolean, error?: string }>> {
  const out: Array<{ name: string, ok: boolean, error?: string }> = []
  for (const c of KV_CONFORMANCE_CASES) {
    try {
      await c.run(fresh, expect)
      out.push({ name: c.name, ok: true })
    } catch (err) {
      out.push({ name: c.name, ok: false, error: (err as Error).stack ?? String(err) })
    }
  }
  return out
}

/** A second open of an exclusive store (another tab) is refused with a typed error, and the first keeps working. */
async function lockCheck (): Promise<{ code: string | undefined, reason: unknown, firstStillWorks: boolean, reopened: boolean }> {
  const name = `locked-${Date.now()}`
  const a = await BrowserKv.open(name, { exclusive: true })
  let code: string | undefined
  let reason: unknown
  try {
    await BrowserKv.open(name, { exclusive: true })
  } catch (err) {
    code = err instanceof HubError ? err.code : 'not a HubError'
    reason = err instanceof HubError ? err.details?.reason : undefined
  }
  await a.batch([{ type: 'put', key: 'x', value: new Uint8Array([1]) }])
  const firstStillWorks = (await a.get('x'))?.[0] === 1
  await a.close()
  const b = await BrowserKv.open(name, { exclusive: true })
  const reopened = (await b.get('x'))?.[0] === 1
  await b.close()
  return { code, reason, firstStillWorks, reopened }
}

/** browser-level read the usual way (chunked nextv): what BrowserKv avoids. The snapshot case must fail against it. */
class ChunkedKv implements KvStore {
  readonly #db: BrowserLevel<string, Uint8Array>
  constructor (db: BrowserLevel<string, Uint8Array>) { this.#db = db }
  async get (key: string): Promise<Uint8Array | undefined> { return await this.#db.get(key) }
  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> { return await this.#db.getMany(keys) }
  async batch (ops: KvOp[]): Promise<void> { await this.#db.batch(ops) }
  async * entries (range: KvRange): AsyncIterable<[string, Uint8Array]> {
    const it = this.#db.iterator(range)
    try {
      for (;;) {
        const chunk = await it.nextv(100)
        if (chunk.length === 0) return
        yield * chunk
      }
    } finally { await it.close() }
  }

  async * keys (range: KvRange): AsyncIterable<string> { for await (const [k] of this.entries(range)) yield k }
  async close (): Promise<void> { await this.#db.close() }
}

async function chunkedSnapshotCase (): Promise<{ ok: boolean, error?: string }> {
  const c = KV_CONFORMANCE_CASES.find(x => x.name.startsWith('a range read does not see'))
  if (c === undefined) return { ok: false, error: 'no snapshot case' }
  const make = async (): Promise<KvStore> => {
    const db = new BrowserLevel<string, Uint8Array>(`chunked-${Date.now()}-${n++}`, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    return new ChunkedKv(db)
  }
  try { await c.run(make, expect); return { ok: true } } catch (err) { return { ok: false, error: (err as Error).message } }
}

const w = window as unknown as Record<string, unknown>
w.__runKv = runKv
w.__lockCheck = lockCheck
w.__chunkedSnapshotCase = chunkedSnapshotCase
w.__ready = true
