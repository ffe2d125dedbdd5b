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
import { platformCrypto } from '#platform/crypto'
import { BadRequestError } from '../errors.js'
import { b64u, fromB64u, fromHex, hex } from '../identity/encoding.js'

const DIGEST_BYTES = 12
/**
 * Commits one revocation can name. The set is 16 base64url characters per
 * commit inside the delete's JSON payload, which the envelope base64url
 * encodes again (×4/3): 48,000 commits make a ~1,000 KiB envelope, under the
 * 1 MiB every hub accepts (55,000 made ~1,147 KiB, which no other hub would
 * take: the revocation could never replicate).
 */
export const MAX_REVOCATION_COMMITS = 48_000

/** The short name of a commit in a revocation set. */
export function revocationDigest (commitId: string): string {
  return b64u(platformCrypto.sha256(commitId).subarray(0, DIGEST_BYTES))
}

/** Encode the set of accepted commit ids (order and duplicates do not matter). */
export function encodeAccepted (commitIds: Iterable<string>): string {
  return encodeDigestHex([...commitIds].map(id => hex(platformCrypto.sha256(id).subarray(0, DIGEST_BYTES))))
}

function encodeDigestHex (digests: string[]): string {
  return b64u(fromHex([...new Set(digests)].sort().join('')))
}

/**
 * The commits two revocations of one grant or device both name, encoded:
 * what stays valid once both apply, whatever order a hub applies them in
 * (each revoking hub named only what it held). A malformed set names
 * nothing: failing closed, like the registry.
 */
export function intersectAccepted (a: string, b: string): string {
  let x: Set<string>
  let y: Set<string>
  try { x = decodeAccepted(a); y = decodeAccepted(b) } catch { return '' }
  return encodeDigestHex([...x].filter(d => y.has(d)).map(d => hex(fromB64u(d))))
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
  // One encoding per set: no trailing characters or unused bits that decoding would silently drop.
  if (b64u(bytes) !== encoded) throw new BadRequestError('revocation set is not canonical base64url')
  const out = new Set<string>()
  for (let i = 0; i < bytes.length; i += DIGEST_BYTES) out.add(b64u(bytes.subarray(i, i + DIGEST_BYTES)))
  return out
}
