/**
 * Comparing two ordered key spaces (the hub's store and the rebuilt one)
 * without holding either in memory.
 */
import { prefixEnd, type KvStore } from '../kv.js'

/**
 * The keys under `prefix` in either store, in key order, with each store's
 * value (undefined where it has none): a streaming merge, so memory stays
 * constant whatever the number of keys.
 */
export async function * merge (real: KvStore, want: KvStore, prefix: string): AsyncGenerator<[string, Uint8Array | undefined, Uint8Array | undefined]> {
  const range = { gte: prefix, lt: prefixEnd(prefix) }
  const ia = real.entries(range)[Symbol.asyncIterator]()
  const ib = want.entries(range)[Symbol.asyncIterator]()
  let a = await ia.next()
  let b = await ib.next()
  while (a.done !== true || b.done !== true) {
    if (b.done === true || (a.done !== true && cmp(a.value[0], b.value[0]) < 0)) {
      const [k, v] = a.value as [string, Uint8Array]
      yield [k, v, undefined]
      a = await ia.next()
    } else if (a.done === true || cmp(a.value[0], b.value[0]) > 0) {
      const [k, v] = b.value
      yield [k, undefined, v]
      b = await ib.next()
    } else {
      yield [a.value[0], a.value[1], b.value[1]]
      a = await ia.next()
      b = await ib.next()
    }
  }
}

export function sameBytes (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === undefined || b === undefined ? a === b : Buffer.compare(a, b) === 0
}

/** Key order of the store: UTF-8 bytes. */
function cmp (a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b))
}
