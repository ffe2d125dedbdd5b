/**
 * Batch Ed25519 verification in Node, off the event loop and on every core:
 * each signature is checked by OpenSSL on libuv's thread pool (node:crypto
 * `verify` with a callback), so a sync page of 64 commits is verified by
 * the pool's threads in parallel while the main thread parses, reads and
 * writes. Measured on the 2-core bench machine: ~4k/s verifying inline on
 * the main thread, ~9–12k/s through the pool in pages of 64. A call with
 * only a few signatures (a live commit) verifies inline: the hop to a
 * pool thread would cost more than it saves.
 *
 * The verdict is exactly `platformCrypto.ed25519Verify`'s: false (never a
 * throw) for a key or signature of the wrong length, a malformed key, or a
 * signature OpenSSL refuses.
 */
import { verify as nodeVerify, type KeyObject } from 'node:crypto'
import { availableParallelism } from 'node:os'
import type { VerifyItem } from './verify-pool.js'
import { ed25519PublicKeyObject } from './crypto-node.js'
import { ed25519VerifyNoble, nativeMayJudge, withNobleRule } from './ed25519-rule.js'

export type { VerifyItem } from './verify-pool.js'

/** Below this many signatures, verify on the calling thread. */
const INLINE_BELOW = 4

/**
 * At most this many verifications queued on the pool at once. The pool is
 * shared (LevelDB's reads and writes run there too): a page of 500
 * verifications submitted at once would put the previous page's write
 * behind all of them, and the pipeline (verify one page while the other is
 * written) would run in series.
 */
const IN_POOL = Math.max(1, availableParallelism())
let inPool = 0
const waiting: Array<() => void> = []

function inline (item: VerifyItem, key: KeyObject): boolean {
  try {
    return nodeVerify(null, item.data, key, item.signature)
  } catch {
    return false
  }
}

async function pooled (item: VerifyItem, key: KeyObject): Promise<boolean> {
  // A slot is taken here, or handed over by the verification that frees it.
  if (inPool >= IN_POOL) await new Promise<void>(resolve => { waiting.push(resolve) })
  else inPool++
  try {
    return await new Promise<boolean>(resolve => {
      try {
        nodeVerify(null, item.data, key, item.signature, (err, ok) => { resolve(err === null && ok) })
      } catch {
        resolve(false)
      }
    })
  } finally {
    const next = waiting.shift()
    if (next === undefined) inPool--
    else next()
  }
}

/** One verdict per item, in order. */
export async function verifyMany (items: readonly VerifyItem[]): Promise<boolean[]> {
  const many = items.length >= INLINE_BELOW
  return await Promise.all(items.map(async item => {
    if (item.publicKey.length !== 32 || item.signature.length !== 64) return false
    // The hub's rule, not OpenSSL's (ed25519-rule.ts): only OpenSSL's true, for a key it may judge, is taken.
    if (!nativeMayJudge(item.publicKey)) return ed25519VerifyNoble(item.publicKey, item.data, item.signature)
    const key = ed25519PublicKeyObject(item.publicKey)
    const native = key !== undefined && (many ? await pooled(item, key) : inline(item, key))
    return withNobleRule(item.publicKey, item.data, item.signature, native)
  }))
}
