/**
 * Where this hub's feed entries came from: for commits ingested from a
 * peer's feed (sync), that peer's hub DID. The sync server skips an entry
 * when serving the very peer it came from — that peer has it, it sent it —
 * so a commit crosses each device pair once instead of coming straight
 * back (the "echo"). Only this hub's own record counts: it names the
 * authenticated connection a commit arrived on, so no peer can make us
 * skip a commit for anyone but itself.
 *
 * Stored as runs, one key per run of consecutive sequence numbers from the
 * same peer (`g!<last seq>` → `{"n":count,"from":did}`): a sync page adds one
 * key, not one per commit. Entries without a run (local writes, a store
 * written before this existed) are "ours" and served to everyone. The most
 * recent runs are also kept in memory, so a live pull reads no extra key.
 */
import { utf8, utf8d } from '../identity/encoding.js'
import { prefixEnd, type KvStore } from './kv.js'
import type { Layout } from './layout.js'
import type { Tx } from './write-queue.js'

export interface OriginRun { first: number, last: number, from: string }

/** How many recent runs stay in memory. */
const MEMORY_RUNS = 4096

export class FeedOrigins {
  readonly #kv: KvStore
  readonly #layout: Layout
  /** Recent runs in feed order; every run with `last >= #floor` is here. */
  #recent: OriginRun[] = []
  #floor = Infinity

  constructor (kv: KvStore, layout: Layout) {
    this.#kv = kv
    this.#layout = layout
  }

  /** From here on every new run is in memory (call with the durable head on open). */
  start (head: number): void {
    this.#recent = []
    this.#floor = head + 1
  }

  /**
   * Stage the runs of `seqs` (ascending feed positions of commits just
   * ingested from `from`) in `tx`; they join the in-memory list once the
   * batch is durable.
   */
  stage (tx: Tx, seqs: number[], from: string): void {
    const runs: OriginRun[] = []
    for (const seq of seqs) {
      const r = runs[runs.length - 1]
      if (r !== undefined && r.last + 1 === seq) r.last = seq
      else runs.push({ first: seq, last: seq, from })
    }
    for (const r of runs) tx.put(this.#layout.origin(r.last), utf8.encode(JSON.stringify({ n: r.last - r.first + 1, from: r.from })))
    tx.after.push(() => {
      // Runs of later pages may already be in: keep the list sorted.
      for (const r of runs) {
        let i = this.#recent.length
        while (i > 0 && (this.#recent[i - 1] as OriginRun).last > r.last) i--
        this.#recent.splice(i, 0, r)
      }
      while (this.#recent.length > MEMORY_RUNS) this.#floor = (this.#recent.shift() as OriginRun).last + 1
    })
  }

  /** The runs that cover any of the positions `from`..`to` (inclusive), in order. */
  async runs (from: number, to: number): Promise<OriginRun[]> {
    if (to < from) return []
    if (from >= this.#floor) return this.#recent.filter(r => r.last >= from && r.first <= to)
    const prefix = this.#layout.originsPrefix()
    const out: OriginRun[] = []
    for await (const [k, v] of this.#kv.entries({ gte: this.#layout.origin(from), lt: prefixEnd(prefix) })) {
      const last = Number(k.slice(prefix.length))
      const { n, from: peer } = JSON.parse(utf8d.decode(v)) as { n: number, from: string }
      const first = last - n + 1
      if (first > to) break
      out.push({ first, last, from: peer })
    }
    return out
  }
}

/** The peer each of `seqs` (ascending) came from, per the runs; undefined = ours. */
export function originsOf (runs: OriginRun[], seqs: number[]): Array<string | undefined> {
  let i = 0
  return seqs.map(seq => {
    while (i < runs.length && (runs[i] as OriginRun).last < seq) i++
    const r = runs[i]
    return r !== undefined && r.first <= seq ? r.from : undefined
  })
}
