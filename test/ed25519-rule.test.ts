/**
 * The hub's Ed25519 acceptance rule in Node (src/platform/ed25519-rule.ts):
 * OpenSSL answers some edge cases otherwise than @noble zip215:false (it
 * accepts signatures forged for small-order and non-canonical keys, and
 * refuses mixed-order R and A), so the platform verify and the batch
 * verifier must give the rule's verdict for every edge vector — the same
 * one a hub in a tab gives (test/browser/ed25519-web.test.ts), or a commit
 * one hub stores is one the other refuses.
 */
import { verify as nodeVerify, createPublicKey } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { platformCrypto } from '../src/platform/crypto-node.js'
import { verifyMany } from '../src/platform/verify-pool-node.js'
import { unhex, vectors } from './fixtures/ed25519-vectors.js'

const items = vectors().map(v => ({ name: v.name, want: v.noble, publicKey: unhex(v.publicKey), data: unhex(v.message), signature: unhex(v.signature) }))

/** OpenSSL's own answer, or undefined when it will not take the key. */
function openssl (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean | undefined {
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' })
    return nodeVerify(null, data, key, signature)
  } catch {
    return undefined
  }
}

describe('Ed25519 in Node: the hub rule, not OpenSSL\'s', () => {
  it('the vectors include cases where OpenSSL alone answers otherwise (so the checks below can fail)', () => {
    const differing = items.filter(t => openssl(t.publicKey, t.data, t.signature) !== t.want).map(t => t.name)
    expect(differing.length).toBeGreaterThan(0)
    expect(differing.some(n => n.includes('all-zero key'))).toBe(true)
  })

  it('platformCrypto.ed25519Verify gives the rule\'s verdict for every edge vector', () => {
    for (const t of items) expect(platformCrypto.ed25519Verify(t.publicKey, t.data, t.signature), t.name).toBe(t.want)
  })

  it('the batch verifier gives it too, on the thread pool (a batch) and inline (one item)', async () => {
    expect(await verifyMany(items)).toEqual(items.map(t => t.want))
    for (const t of items) expect(await verifyMany([t]), t.name).toEqual([t.want])
  })
})
