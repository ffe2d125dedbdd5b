/**
 * DID syntax for the organization side: did:web in its canonical form, and
 * any DID in the form it is compared in. One home, because participants,
 * definitions' allow-lists, issuance, the STS and the DCP APIs all compare
 * DIDs, and two spellings of one DID must never compare unequal.
 */
import { BadRequestError } from '../errors.js'
import { canonicalDidWeb, DidWebSyntaxError } from '../identity/did-web.js'

/**
 * A did:web DID in canonical form (identity/did-web.ts): did:web hosting
 * rebuilds the DID from a request the same way, so a stored DID is exactly
 * what a resolver of its URL asks for.
 */
export function checkDid (did: unknown): string {
  if (typeof did !== 'string') throw new BadRequestError(DID_WEB_EXAMPLE)
  try {
    return canonicalDidWeb(did)
  } catch (err) {
    if (!(err instanceof DidWebSyntaxError)) throw err
    if (err.message === 'not a did:web DID') throw new BadRequestError(DID_WEB_EXAMPLE)
    if (err.message === 'malformed percent-escape') throw new BadRequestError('did has a malformed percent-escape')
    throw new BadRequestError('did has an invalid host or path segment')
  }
}

const DID_WEB_EXAMPLE = 'did must be a did:web DID, e.g. did:web:127.0.0.1%3A8080:org:acme'

/**
 * A DID as compared with an ID token's `iss`: did:web in canonical form (so
 * an allow-list entry written with `%3a` still matches), anything else as is.
 */
export function canonicalDid (did: string): string {
  if (!did.startsWith('did:web:')) return did
  try {
    return checkDid(did)
  } catch {
    return did
  }
}

/** A DID (any method) in the form it is compared in; `what` names it in the error. */
export function checkAnyDid (v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length > 2048 || !/^did:[a-z0-9]+:\S+$/.test(v)) throw new BadRequestError(`${what} must be a DID`)
  return canonicalDid(v)
}
