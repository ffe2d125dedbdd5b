/**
 * The (interface, context, type) pairs a tenant's objects occupy: what a
 * query by context only or by type only needs to find its sort ranges
 * (`i!<iface>!B<context>!<type>!…`, one per pair) and merge them. One key
 * per pair, `n!<iface>!<context>!<type>` (layout.ts), written in the same
 * batch as the first object of the pair, and read into memory at open.
 *
 * The set only grows: a pair whose objects were all deleted stays, which
 * costs a query one empty range seek and keeps an entry correct without
 * counting objects. The memory copy learns a pair only once its batch is
 * durable (a failed batch leaves no pair in memory that is not on disk), and
 * a pair staged but not yet written is found in the write queue's staged
 * keys, so the key is written once.
 */
import { prefixEnd, type KvStore } from './kv.js'
import type { Layout } from './layout.js'
import type { ObjectMeta } from './object-meta.js'
import type { Tx } from './write-queue.js'

const EMPTY = new Uint8Array(0)

export interface Pair { iface: string, context: string, type: string }

export class CollectionPairs {
  readonly #layout: Layout
  /** iface → context → types */
  readonly #byContext = new Map<string, Map<string, Set<string>>>()
  /** iface → type → contexts */
  readonly #byType = new Map<string, Map<string, Set<string>>>()

  constructor (layout: Layout) {
    this.#layout = layout
  }

  /**
   * Learn every pair on disk (at open, after a repair, and when following
   * another process's writes). A union, never a replacement: memory holds
   * only pairs already durable, and one learnt by a batch that landed while
   * this scan ran must not be dropped.
   */
  async load (kv: KvStore): Promise<void> {
    const prefix = this.#layout.pairsPrefix()
    for await (const k of kv.keys({ gte: prefix, lt: prefixEnd(prefix) })) {
      const p = this.#layout.parsePair(k)
      if (p !== undefined) this.learn(p)
    }
  }

  has (p: Pair): boolean {
    return this.#byContext.get(p.iface)?.get(p.context)?.has(p.type) === true
  }

  /** Types that occur in `context` (sorted, so a merge opens its ranges in a stable order). */
  typesOf (iface: string, context: string): string[] {
    return [...(this.#byContext.get(iface)?.get(context) ?? [])].sort()
  }

  /** Contexts that `type` occurs in (sorted). */
  contextsOf (iface: string, type: string): string[] {
    return [...(this.#byType.get(iface)?.get(type) ?? [])].sort()
  }

  /** Every pair known (a copy). */
  all (): Pair[] {
    const out: Pair[] = []
    for (const [iface, m] of this.#byContext) for (const [context, types] of m) for (const type of types) out.push({ iface, context, type })
    return out
  }

  /** Stage the pair of an object whose sort entries `tx` writes, if it is new; memory learns it once the batch is durable. */
  stage (tx: Tx, meta: ObjectMeta | undefined): void {
    if (meta === undefined || meta.deleted || meta.context === undefined || meta.type === undefined) return
    const p: Pair = { iface: meta.interface, context: meta.context, type: meta.type }
    if (this.has(p)) return
    const key = this.#layout.pair(p.iface, p.context, p.type)
    if (tx.staged(key) !== undefined) return
    tx.put(key, EMPTY)
    tx.after.push(() => this.learn(p))
  }

  /** A pair now on disk (written by the store's own batch or a migration). */
  learn (p: Pair): void {
    addTo(this.#byContext, this.#byType, p)
  }
}

function addTo (byContext: Map<string, Map<string, Set<string>>>, byType: Map<string, Map<string, Set<string>>>, p: Pair): void {
  add(byContext, p.iface, p.context, p.type)
  add(byType, p.iface, p.type, p.context)
}

function add (m: Map<string, Map<string, Set<string>>>, a: string, b: string, c: string): void {
  let inner = m.get(a)
  if (inner === undefined) { inner = new Map(); m.set(a, inner) }
  let set = inner.get(b)
  if (set === undefined) { set = new Set(); inner.set(b, set) }
  set.add(c)
}
