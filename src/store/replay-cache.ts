/**
 * Replay protection for request tokens: a (iss, jti) pair is accepted once.
 * Remembered until the token's `exp` (plus clock skew) has passed, in memory
 * and on disk, so restarting the hub does not reopen the window.
 */
import { sha256Hex, utf8, utf8d } from '../identity/encoding.js'
import { coalescerOf } from './batch-coalescer.js'
import { prefixEnd, type KvStore } from './kv.js'
import { CLOCK_SKEW_S } from '../identity/jws.js'

const DEFAULT_PREFIX = 'n!jti!'

export class ReplayCache {
  readonly #kv: KvStore
  readonly #prefix: string
  readonly #seen = new Map<string, number>()
  #loaded: Promise<void> | undefined
  #lastSweep = 0

  /** `prefix` keeps separate caches (app request tokens, DCP ID tokens) apart in one store. */
  constructor (kv: KvStore, prefix = DEFAULT_PREFIX) {
    this.#kv = kv
    this.#prefix = prefix
  }

  async #load (): Promise<void> {
    const now = Date.now()
    const stale: string[] = []
    for await (const [k, v] of this.#kv.entries({ gte: this.#prefix, lt: prefixEnd(this.#prefix) })) {
      const until = Number(utf8d.decode(v))
      if (until > now) this.#seen.set(k.slice(this.#prefix.length), until)
      else stale.push(k)
    }
    if (stale.length > 0) await this.#kv.batch(stale.map(key => ({ type: 'del' as const, key })))
  }

  /**
   * Read the stored records again before the next accept (what is claimed in
   * memory stays). For a store another process wrote to meanwhile: a hosting
   * process that takes an owner over must refuse the tokens the previous
   * holder accepted (net/hosting/node.ts, on catching up a shard).
   */
  reload (): void {
    this.#loaded = undefined
  }

  /** Accept a token once. Returns false if (iss, jti) was seen before and has not expired. */
  async accept (iss: string, jti: string, exp: number): Promise<boolean> {
    this.#loaded ??= this.#load()
    await this.#loaded
    const key = sha256Hex(`${iss}\n${jti}`)
    const now = Date.now()
    const known = this.#seen.get(key)
    if (known !== undefined && known > now) return false
    // Claimed synchronously (before any await) so two concurrent uses cannot both pass.
    const until = (exp + CLOCK_SKEW_S) * 1000
    this.#seen.set(key, until)
    // On disk before the caller acts on it; concurrent requests' records share a batch (batch-coalescer.ts).
    await coalescerOf(this.#kv).write([{ type: 'put', key: this.#prefix + key, value: utf8.encode(String(until)) }])
    if (now - this.#lastSweep > 60_000) this.#sweep(now)
    return true
  }

  #sweep (now: number): void {
    this.#lastSweep = now
    const dead: string[] = []
    for (const [k, until] of this.#seen) if (until <= now) { this.#seen.delete(k); dead.push(this.#prefix + k) }
    if (dead.length > 0) void this.#kv.batch(dead.map(key => ({ type: 'del' as const, key }))).catch(() => {})
  }
}
