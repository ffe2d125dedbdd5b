/**
 * Revocation sets (sync.md, Revocation): 12-byte digests of commit ids,
 * sorted, concatenated, base64url. Encoding is canonical — order and
 * duplicates of the input do not change it — and decoding refuses anything
 * that is not exactly such an encoding.
 */
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { b64u } from '../identity/encoding.js'
import { decodeAccepted, encodeAccepted, intersectAccepted, MAX_REVOCATION_COMMITS, revocationDigest } from './revocation.js'

const ids = fc.array(fc.string({ minLength: 1, maxLength: 70 }), { maxLength: 40 })

describe('revocation sets', () => {
  it('a digest is the first 12 bytes of SHA-256 over the id, base64url (16 characters)', () => {
    const id = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
    expect(revocationDigest(id)).toBe(b64u(createHash('sha256').update(id).digest().subarray(0, 12)))
    expect(revocationDigest(id)).toMatch(/^[A-Za-z0-9_-]{16}$/)
  })

  it('round-trips: the decoded set is exactly the digests of the encoded ids', () => {
    fc.assert(fc.property(ids, list => {
      expect(decodeAccepted(encodeAccepted(list))).toEqual(new Set(list.map(revocationDigest)))
    }))
  })

  it('order and duplicates do not matter', () => {
    fc.assert(fc.property(ids, fc.nat(), (list, seed) => {
      const shuffled = [...list, ...list.slice(0, seed % (list.length + 1))].sort(() => 0).reverse()
      expect(encodeAccepted(shuffled)).toBe(encodeAccepted(list))
      expect(encodeAccepted(new Set(list))).toBe(encodeAccepted(list))
    }))
  })

  it('is sorted and 16 characters per distinct commit', () => {
    fc.assert(fc.property(ids, list => {
      const enc = encodeAccepted(list)
      const n = new Set(list).size
      expect(Buffer.from(enc, 'base64url').length).toBe(12 * n)
      const hexes = Buffer.from(enc, 'base64url').toString('hex').match(/.{24}/g) ?? []
      expect(hexes).toEqual([...hexes].sort())
    }))
  })

  it('the empty set encodes as the empty string', () => {
    expect(encodeAccepted([])).toBe('')
    expect(decodeAccepted('')).toEqual(new Set())
  })

  it('intersects two revocations\' sets; a malformed one names nothing', () => {
    fc.assert(fc.property(ids, ids, (x, y) => {
      const both = intersectAccepted(encodeAccepted(x), encodeAccepted(y))
      expect(both).toBe(encodeAccepted(x.filter(id => y.includes(id))))
      expect(intersectAccepted(encodeAccepted(y), encodeAccepted(x))).toBe(both)
      expect(intersectAccepted(encodeAccepted(x), encodeAccepted(x))).toBe(encodeAccepted(x))
    }))
    expect(intersectAccepted(encodeAccepted(['a']), 'bad!')).toBe('')
    expect(intersectAccepted('', encodeAccepted(['a']))).toBe('')
  })

  it('refuses malformed sets with bad_request', () => {
    const one = encodeAccepted(['a'])
    for (const bad of [
      'not base64!',
      'AAAA====',
      'AAAA+AAA/AAAAAAA',
      one.slice(0, 15), // a partial entry
      one + 'AAAA', // 12 + 3 bytes
      `${one} `,
      // Non-canonical: a trailing character that carries no whole byte.
      `${one}A`,
      `${encodeAccepted(['a', 'b'])}A`,
      `${encodeAccepted(['a', 'b'])}AA`
    ]) {
      expect(() => decodeAccepted(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'bad_request' }))
    }
  })

  it('the cap leaves a revocation commit under the 1 MiB commit limit', () => {
    // Payload {"accepted":"<16 chars per commit>","n":N}, then base64url in the envelope.
    const payload = JSON.stringify({ accepted: 'A'.repeat(16 * MAX_REVOCATION_COMMITS), n: MAX_REVOCATION_COMMITS })
    const envelopePayload = Math.ceil(payload.length * 4 / 3)
    // Protected header (~500 characters of base64url for a Permissions delete), signature, JSON framing.
    expect(envelopePayload + 1000 + 86 + 40).toBeLessThanOrEqual(1024 * 1024)
  })
})
