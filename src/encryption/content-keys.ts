/**
 * Content keys (edge encryption, `protocols/encryption.md` §Content keys).
 *
 * One symmetric AES-256-GCM key per (tenant, collection) and version. Its id
 * names both: `kid = "<collection tag>.<version>"`, e.g.
 * `buhFxBh-ASw3Km1JZaBjYSD51EzlPEizA-tU9nNOCdY.3`, where the tag is the
 * 43-character collection tag (see `tags.ts`) and the version is a positive
 * decimal integer without leading zeros. The mapping kid ⇄ (tag, version) is
 * one-to-one. A new version is minted whenever a reader loses access; old
 * versions stay readable for the commits sealed under them.
 *
 * Pure functions apart from drawing random bytes for new keys.
 */
import { platformCrypto } from '#platform/crypto'
import { BadRequestError } from '../errors.js'
import { isCollectionTag } from './tags.js'

/** AES-256 key length. */
export const CONTENT_KEY_BYTES = 32

/** Highest version (keeps the kid within the commit header's 128-char `enc` limit). */
export const MAX_CONTENT_KEY_VERSION = Number.MAX_SAFE_INTEGER

export const CONTENT_KEY_ID_PATTERN = /^([A-Za-z0-9_-]{43})\.([1-9][0-9]{0,15})$/

export interface ContentKey {
  /** `<collection tag>.<version>` */
  readonly kid: string
  /** 32 raw key bytes. Never log, serialize or put in an error. */
  readonly key: Uint8Array
}

function isVersion (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= MAX_CONTENT_KEY_VERSION
}

/** `true` for a well-formed content key id. */
export function isContentKeyId (kid: unknown): kid is string {
  if (typeof kid !== 'string') return false
  const m = CONTENT_KEY_ID_PATTERN.exec(kid)
  return m !== null && isVersion(Number(m[2]))
}

export function contentKeyId (collectionTag: string, version: number): string {
  if (!isCollectionTag(collectionTag)) throw new BadRequestError('not a collection tag')
  if (!isVersion(version)) throw new BadRequestError('a content key version is a positive safe integer', { version })
  return `${collectionTag}.${version}`
}

/** Split a content key id into its collection tag and version. */
export function parseContentKeyId (kid: string): { collectionTag: string, version: number } {
  const m = CONTENT_KEY_ID_PATTERN.exec(kid)
  const tag = m?.[1]
  const version = Number(m?.[2])
  if (tag === undefined || !isVersion(version)) throw new BadRequestError('not a content key id', { kid: String(kid).slice(0, 128) })
  return { collectionTag: tag, version }
}

/** A fresh random content key for a collection at a version. */
export function newContentKey (collectionTag: string, version: number): ContentKey {
  return { kid: contentKeyId(collectionTag, version), key: platformCrypto.randomBytes(CONTENT_KEY_BYTES) }
}

/** The next version of a collection's key (rotation, e.g. after a reader is removed). */
export function rotateContentKey (current: ContentKey | string): ContentKey {
  const { collectionTag, version } = parseContentKeyId(typeof current === 'string' ? current : current.kid)
  return newContentKey(collectionTag, version + 1)
}

/** Wrap existing key bytes (e.g. from an opened key envelope), checking id and length. The bytes are copied. */
export function importContentKey (kid: string, key: Uint8Array): ContentKey {
  if (!isContentKeyId(kid)) throw new BadRequestError('not a content key id', { kid: String(kid).slice(0, 128) })
  if (!(key instanceof Uint8Array) || key.length !== CONTENT_KEY_BYTES) {
    throw new BadRequestError(`a content key is ${CONTENT_KEY_BYTES} bytes`)
  }
  return { kid, key: Uint8Array.from(key) }
}

/** The collection tag a content key belongs to. */
export function contentKeyCollectionTag (key: ContentKey | string): string {
  return parseContentKeyId(typeof key === 'string' ? key : key.kid).collectionTag
}

/** The version of a content key. */
export function contentKeyVersion (key: ContentKey | string): number {
  return parseContentKeyId(typeof key === 'string' ? key : key.kid).version
}
