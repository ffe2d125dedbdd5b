/**
 * Reading encrypted collections on the app side: open the key envelopes
 * sealed to the app's DID, and decrypt commit payloads with them. The app
 * keeps the keys it has opened; after a revocation the hub seals new commits
 * under a key version the app is not a recipient of.
 */
import { AuthenticationError, BadRequestError, NotFoundError } from '../errors.js'
import { parseCommit } from '../commits/commit.js'
import { x25519MultibaseFromEd25519 } from '../identity/did-key.js'
import { utf8d } from '../identity/encoding.js'
import type { Ed25519KeyPair } from '../identity/keys.js'
import type { ContentKey } from '../encryption/content-keys.js'
import { commitHeaderAad, decryptPayload, openKeyEnvelope } from '../encryption/jwe.js'

export interface EnvelopeRecord { kid: string, tag: string, version: number, envelope: unknown }

/** Open every envelope the identity is a recipient of; others are skipped. */
export function openEnvelopes (identity: Ed25519KeyPair, records: EnvelopeRecord[]): ContentKey[] {
  const opener = { kid: `${identity.did}#${x25519MultibaseFromEd25519(identity.publicKey)}`, x25519PrivateKey: identity.x25519PrivateKey() }
  const keys: ContentKey[] = []
  for (const r of records) {
    try { keys.push(openKeyEnvelope(r.envelope, opener)) } catch { /* not sealed to us */ }
  }
  return keys
}

/**
 * The plaintext payload of a commit envelope: an Automerge change or an LWW
 * JSON value, as the writer made it. `not_found` when none of `keys` is the
 * commit's key (e.g. written after our access was revoked);
 * `authentication_failed` when the payload or its header was tampered with.
 */
export function decryptCommit (envelope: unknown, keys: readonly ContentKey[]): Uint8Array {
  const commit = parseCommit(envelope, Infinity)
  const kid = commit.header.enc
  if (kid === undefined) return commit.payload
  if (commit.header.operation === 'delete') throw new BadRequestError('a delete commit has no payload')
  // Several keys may share an id (two owner devices apart each keyed the collection): try each; GCM tells the right one.
  const candidates = keys.filter(k => k.kid === kid)
  if (candidates.length === 0) throw new NotFoundError(`no key ${kid} among the keys this app holds`)
  let first: unknown
  for (const key of candidates) {
    try {
      return decryptPayload(key, utf8d.decode(commit.payload), commitHeaderAad(commit.header))
    } catch (err) {
      first ??= err
    }
  }
  throw first instanceof AuthenticationError ? first : new AuthenticationError('payload does not decrypt')
}
