/**
 * The owner's audit log: one entry per request made by anyone other than
 * the owner, allowed or denied. Append-only (there is no API to change or
 * delete an entry), local to each hub (not replicated: each hub records
 * what it served), on disk under `t!<tenant>!a!<seq>`.
 */
import { SerialQueue } from '../serial.js'
import { utf8, utf8d } from '../identity/encoding.js'
import { coalescerOf } from './batch-coalescer.js'
import { prefixEnd, type KvStore } from './kv.js'
import { seqKey, type Layout } from './layout.js'

export interface AuditEntry {
  seq: number
  time: string
  caller: string
  interface: string
  method: string
  /** Object id, context/type, or a description of what was addressed. */
  target: string
  decision: 'allowed' | 'denied'
  /** The error code when denied (or when the request then failed). */
  code?: string
  reason?: string
  /** How it was allowed: 'grant' (with its id), 'public', 'device'. */
  via?: string
  grantId?: string
}

export class AuditLog {
  readonly #kv: KvStore
  readonly #prefix: string
  #seq = -1
  /** Appends run one at a time, so sequence numbers follow the order of the calls. */
  readonly #appends = new SerialQueue()

  constructor (kv: KvStore, layout: Layout) {
    this.#kv = kv
    this.#prefix = `${layout.p}a!`
  }

  async #init (): Promise<void> {
    if (this.#seq >= 0) return
    this.#seq = 0
    for await (const k of this.#kv.keys({ gte: this.#prefix, lt: prefixEnd(this.#prefix), reverse: true, limit: 1 })) {
      this.#seq = Number(k.slice(this.#prefix.length))
    }
  }

  /**
   * Append one entry; resolves once it is written. Entries keep their order:
   * sequence numbers are taken one at a time in call order, and the writes
   * go to the store's coalescer in that same order (one batch for the
   * entries of many concurrent requests, batch-coalescer.ts).
   */
  async append (entry: Omit<AuditEntry, 'seq' | 'time'>): Promise<AuditEntry> {
    const { full, written } = await this.#appends.run(async () => {
      await this.#init()
      const full: AuditEntry = { seq: ++this.#seq, time: new Date().toISOString(), ...entry }
      return { full, written: coalescerOf(this.#kv).write([{ type: 'put', key: this.#prefix + seqKey(full.seq), value: utf8.encode(JSON.stringify(full)) }]) }
    })
    await written
    return full
  }

  /** Entries after `after` (oldest first), at most `limit`. */
  async list (opts: { after?: number, limit?: number } = {}): Promise<AuditEntry[]> {
    const out: AuditEntry[] = []
    const range = { gt: this.#prefix + seqKey(opts.after ?? 0), lt: prefixEnd(this.#prefix), limit: Math.min(opts.limit ?? 1000, 10_000) }
    for await (const [, v] of this.#kv.entries(range)) out.push(JSON.parse(utf8d.decode(v)) as AuditEntry)
    return out
  }
}
