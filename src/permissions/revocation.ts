/**
 * The set a revocation names. When the owner revokes a grant or a device,
 * the revoking hub lists every commit it holds that relied on it (signed by
 * the revoked party, or — for a device — accepted by it). After the
 * revocation only those stay valid, on every hub, whatever their
 * `committed_at` says: a signer's clock is not evidence, the revoking hub's
 * knowledge is (see protocols/sync.md, "Revocation").
 *
 * Each commit is named by the first 12 bytes of SHA-256 over its id (96 bits:
 * forging a commit that collides with a listed one costs ~2^96 hashes per
 * listed commit), concatenated in sorted order and base64url encoded.
 */
import { createHash } from 'node:crypto'
import { BadRequestError } from '../errors.js'
import { b64u, fromB64u } from '../identity/encoding.js'

const DIGEST_BYTES = 12
/** Commits one revocation can name (16 base64url characters each: ~0.9 MiB). */
export const MAX_REVOCATION_COMMITS = 55_000

/** The short name of a commit in a revocation set. */
export function revocationDigest (commitId: string): string {
  return b64u(createHash('sha256').update(commitId).digest().subarray(0, DIGEST_BYTES))
}

/** Encode the set of accepted commit ids (order and duplicates do not matter). */
export function encodeAccepted (commitIds: Iterable<string>): string {
  const digests = [...new Set([...commitIds].map(id => Buffer.from(createHash('sha256').update(id).digest().subarray(0, DIGEST_BYTES)).toString('hex')))].sort()
  return b64u(Buffer.from(digests.join(''), 'hex'))
}

/** Decode a revocation set into digests comparable with {@link revocationDigest}. */
export function decodeAccepted (encoded: string): Set<string> {
  let bytes: Uint8Array
  try {
    bytes = fromB64u(encoded)
  } catch {
    throw new BadRequestError('revocation set is not base64url')
  }
  if (bytes.length % DIGEST_BYTES !== 0) throw new BadRequestError('revocation set has a partial entry')
  const out = new Set<string>()
  for (let i = 0; i < bytes.length; i += DIGEST_BYTES) out.add(b64u(bytes.subarray(i, i + DIGEST_BYTES)))
  return out
}
