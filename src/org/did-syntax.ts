/**
 * DID syntax for the organization side: did:web in its canonical form, and
 * any DID in the form it is compared in. One home, because participants,
 * definitions' allow-lists, issuance, the STS and the DCP APIs all compare
 * DIDs, and two spellings of one DID must never compare unequal.
 */
import { BadRequestError } from '../errors.js'

/**
 * A did:web DID in canonical form: each part percent-decoded and encoded
 * again with encodeURIComponent (so `%3a` → `%3A`, `a%2Db` → `a-b`), the
 * host lower-cased. did:web hosting rebuilds the DID from a request the same
 * way, so a stored DID is exactly what a resolver of its URL asks for.
 */
export function checkDid (did: unknown): string {
  if (typeof did !== 'string' || !/^did:web:[A-Za-z0-9._%-]+(:[A-Za-z0-9._%-]+)*$/.test(did)) {
    throw new BadRequestError('did must be a did:web DID, e.g. did:web:127.0.0.1%3A8080:org:acme')
  }
  const [, , host, ...path] = did.split(':') as [string, string, string, ...string[]]
  let parts: string[]
  try {
    parts = [host, ...path].map(p => decodeURIComponent(p))
  } catch {
    throw new BadRequestError('did has a malformed percent-escape')
  }
  if (parts.some(p => p === '' || p === '.' || p === '..' || /[/?#@\s]/.test(p))) throw new BadRequestError('did has an invalid host or path segment')
  const [h, ...rest] = parts as [string, ...string[]]
  return ['did', 'web', encodeURIComponent(h.toLowerCase()), ...rest.map(p => encodeURIComponent(p))].join(':')
}

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
