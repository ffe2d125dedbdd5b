/**
 * Opaque collection tags (edge encryption, `protocols/encryption.md` §Tags).
 *
 * An encrypted commit carries `tag` instead of `context`/`type`, so a blind
 * hub can group and authorize commits per collection without learning what
 * the collection is. The tag is a keyed hash under the tenant secret (which
 * only the owner's devices hold):
 *
 *     k   = HKDF-SHA256(ikm = tenantSecret, salt = "", info = "identity-hub collection tag v1", L = 32)
 *     tag = base64url(HMAC-SHA256(k, u32be(len(c)) || c || u32be(len(t)) || t))
 *
 * where c and t are the UTF-8 bytes of context and type. The length prefixes
 * make the encoding injective, so ('a','bc') and ('ab','c') never collide.
 * Pure functions: no I/O.
 */
import { platformCrypto } from '#platform/crypto'
import { BadRequestError } from '../errors.js'
import { b64u, utf8 } from '../identity/encoding.js'

export const COLLECTION_TAG_INFO = 'identity-hub collection tag v1'

/** Matches the commit header schema's `tag` pattern. */
export const COLLECTION_TAG_PATTERN = /^[A-Za-z0-9_-]{43}$/

/** Shortest tenant secret accepted (the hub generates 32 bytes). */
export const MIN_TENANT_SECRET_BYTES = 16

export function isCollectionTag (value: unknown): value is string {
  return typeof value === 'string' && COLLECTION_TAG_PATTERN.test(value)
}

/** The HMAC key for collection tags, derived from the tenant secret. */
export function collectionTagKey (tenantSecret: Uint8Array): Uint8Array {
  if (!(tenantSecret instanceof Uint8Array) || tenantSecret.length < MIN_TENANT_SECRET_BYTES) {
    throw new BadRequestError(`a tenant secret is at least ${MIN_TENANT_SECRET_BYTES} bytes`)
  }
  return platformCrypto.hkdfSha256(tenantSecret, new Uint8Array(0), COLLECTION_TAG_INFO, 32)
}

function isTagPart (s: unknown): s is string {
  // A lone surrogate (not well-formed) would be UTF-8 encoded as U+FFFD and collide with it.
  return typeof s === 'string' && s.length > 0 && s.isWellFormed()
}

/** Injective encoding of (context, type): each part as u32be(length) || UTF-8 bytes. */
export function collectionTagInput (context: string, type: string): Uint8Array {
  const parts = [utf8.encode(context), utf8.encode(type)]
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0))
  const view = new DataView(out.buffer)
  let o = 0
  for (const p of parts) {
    view.setUint32(o, p.length)
    out.set(p, o + 4)
    o += 4 + p.length
  }
  return out
}

/** The collection tag for (context, type): 43 base64url characters. */
export function collectionTag (tenantSecret: Uint8Array, context: string, type: string): string {
  if (!isTagPart(context) || !isTagPart(type)) {
    throw new BadRequestError('a collection tag needs a non-empty, well-formed context and type')
  }
  return b64u(platformCrypto.hmacSha256(collectionTagKey(tenantSecret), collectionTagInput(context, type)))
}
