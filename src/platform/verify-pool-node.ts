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
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto'
import type { VerifyItem } from './verify-pool.js'

export type { VerifyItem } from './verify-pool.js'

/** Below this many signatures, verify on the calling thread. */
const INLINE_BELOW = 4

const keys = new Map<string, KeyObject | null>()

function keyObject (publicKey: Uint8Array): KeyObject | undefined {
  const x = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('base64url')
  let key = keys.get(x)
  if (key === undefined) {
    try {
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' })
    } catch {
      key = null
    }
    if (keys.size > 10_000) keys.clear()
    keys.set(x, key)
  }
  return key ?? undefined
}

function inline (item: VerifyItem, key: KeyObject): boolean {
  try {
    return nodeVerify(null, item.data, key, item.signature)
  } catch {
    return false
  }
}

async function pooled (item: VerifyItem, key: KeyObject): Promise<boolean> {
  return await new Promise<boolean>(resolve => {
    try {
      nodeVerify(null, item.data, key, item.signature, (err, ok) => { resolve(err === null && ok) })
    } catch {
      resolve(false)
    }
  })
}

/** One verdict per item, in order. */
export async function verifyMany (items: readonly VerifyItem[]): Promise<boolean[]> {
  const many = items.length >= INLINE_BELOW
  return await Promise.all(items.map(async item => {
    if (item.publicKey.length !== 32 || item.signature.length !== 64) return false
    const key = keyObject(item.publicKey)
    if (key === undefined) return false
    return many ? await pooled(item, key) : inline(item, key)
  }))
}
