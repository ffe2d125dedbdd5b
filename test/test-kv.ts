/**
 * The KvStore a store test runs on. Normally what the test always used
 * (MemoryKv, or LevelKv in a temp dir); with `HUB_TEST_STORE=postgres`
 * (`npm run test:pg`) a PgKv in a fresh namespace of a throwaway cluster
 * this test file starts on first use (test/pg-harness.ts) and stops after
 * its last test. A test opts in by building its store with {@link testKv}
 * or extending {@link TestKv}; what it asserts stays the same.
 *
 * With `HUB_TEST_STORE=postgres` and no way to start PostgreSQL, the store
 * FAILS to open (with the reason) instead of quietly running on the default.
 */
import { afterAll } from 'vitest'
import type { KvOp, KvRange, KvStore } from '../src/store/kv.js'
import type { StoreChoice } from '../src/hub.js'
import { MemoryKv } from '../src/store/memory-kv.js'
import { PgKv } from '../src/store/pg-kv.js'
import { freshNamespace, startPostgres, type PgCluster } from './pg-harness.js'

export const ON_POSTGRES = process.env.HUB_TEST_STORE === 'postgres'

let cluster: Promise<PgCluster> | undefined
const opened: PgKv[] = []

if (ON_POSTGRES) {
  // Registered when a test file imports this module, so it runs after that
  // file's own afterAll hooks (after-hooks run in reverse order).
  afterAll(async () => {
    await Promise.allSettled(opened.splice(0).map(async kv => { await kv.close() }))
    const c = cluster
    cluster = undefined
    if (c !== undefined) await (await c.catch(() => undefined))?.stop()
  })
}

async function sharedCluster (): Promise<PgCluster> {
  cluster ??= startPostgres().then(s => {
    if (s.cluster === undefined) throw new Error(`HUB_TEST_STORE=postgres but no PostgreSQL could be started: ${s.reason}`)
    return s.cluster
  })
  return await cluster
}

/** A fresh PgKv in its own namespace on this file's cluster. */
export async function pgTestKv (): Promise<PgKv> {
  const { url } = await sharedCluster()
  const kv = await PgKv.open({ url, namespace: freshNamespace('test'), maxConnections: 4 })
  opened.push(kv)
  return kv
}

/** The cluster of this test file (started on first use; stopped after its last test). */
export async function testCluster (): Promise<PgCluster> {
  return await sharedCluster()
}

/**
 * The store a whole hub of a test keeps its data in: undefined normally
 * (LevelDB in its directory), a fresh namespace of this file's cluster
 * under HUB_TEST_STORE=postgres (test/helpers.ts tempHub).
 */
export async function testHubStore (): Promise<StoreChoice | undefined> {
  if (!ON_POSTGRES) return undefined
  const { url } = await sharedCluster()
  return { url, namespace: freshNamespace('hub') }
}

/** `fallback()` normally; a fresh PgKv under HUB_TEST_STORE=postgres. */
export async function testKv (fallback: () => Promise<KvStore>): Promise<KvStore> {
  return ON_POSTGRES ? await pgTestKv() : await fallback()
}

/**
 * A KvStore to construct synchronously (and to subclass, as counting
 * wrappers do): a MemoryKv normally, a PgKv opened on first use under
 * HUB_TEST_STORE=postgres.
 */
export class TestKv implements KvStore {
  readonly #inner: Promise<KvStore>

  constructor () {
    this.#inner = ON_POSTGRES ? pgTestKv() : Promise.resolve(new MemoryKv())
    // A failure surfaces on the first call; this keeps it from also being an unhandled rejection.
    this.#inner.catch(() => {})
  }

  async get (key: string): Promise<Uint8Array | undefined> { return await (await this.#inner).get(key) }
  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> { return await (await this.#inner).getMany(keys) }
  async batch (ops: KvOp[]): Promise<void> { await (await this.#inner).batch(ops) }
  async * entries (range: KvRange): AsyncIterable<[string, Uint8Array]> { yield * (await this.#inner).entries(range) }
  async * keys (range: KvRange): AsyncIterable<string> { yield * (await this.#inner).keys(range) }
  async close (): Promise<void> { await (await this.#inner).close() }
}
