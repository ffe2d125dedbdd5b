/**
 * Building a commit's collection fields and signing it, sealed when its
 * collection is encrypted: the one home shared by the hub (store/commit-maker.ts)
 * and the app SDK (client/commits.ts), so both name an encrypted collection
 * the same way — its tag and key id, both read from the content key's id
 * (`<tag>.<version>`, content-keys.ts) — and bind the payload to the exact
 * signed header.
 */
import { headerFor, signCommit, type UnsignedHeader, type VerifiedCommit } from '../commits/commit.js'
import { utf8 } from '../identity/encoding.js'
import type { Signer } from '../identity/keys.js'
import { parseContentKeyId, type ContentKey } from './content-keys.js'
import { commitHeaderAad, encryptPayload } from './jwe.js'

/** The collection part of a header: names in clear, or (encrypted collection) only its tag and key id. */
export function collectionFields (context: string | undefined, type: string | undefined, key: ContentKey | undefined): Pick<UnsignedHeader, 'context' | 'type' | 'tag' | 'enc'> {
  if (key === undefined) return { ...(context !== undefined ? { context } : {}), ...(type !== undefined ? { type } : {}) }
  return { tag: parseContentKeyId(key.kid).collectionTag, enc: key.kid }
}

/** Sign `fields` over `plain`, sealing it to the exact header first when a key is given (deletes carry no payload). */
export function signSealed (fields: UnsignedHeader, plain: Uint8Array, signer: Signer, key: ContentKey | undefined): VerifiedCommit {
  if (key === undefined || fields.operation === 'delete') return signCommit(fields, plain, signer)
  return signCommit(fields, utf8.encode(encryptPayload(key, plain, commitHeaderAad(headerFor(fields, signer)))), signer)
}
