/**
 * Branded string ids. They cost nothing at run time and stop a commit id
 * being passed where an object id or a DID is expected.
 */
declare const brand: unique symbol
type Brand<T, B extends string> = T & { readonly [brand]: B }

/** A decentralized identifier, e.g. `did:key:z6Mk…` or `did:web:example.com`. */
export type Did = Brand<string, 'Did'>
/** CIDv1 (raw, sha2-256) over a commit's `protected.payload`, base32. */
export type CommitId = Brand<string, 'CommitId'>
/** The id of an object: the commit id of its create commit. */
export type ObjectId = Brand<string, 'ObjectId'>

export function asDid (s: string): Did { return s as Did }
export function asCommitId (s: string): CommitId { return s as CommitId }
export function asObjectId (s: string): ObjectId { return s as ObjectId }

export function isDid (s: unknown): s is Did {
  return typeof s === 'string' && /^did:[a-z0-9]+:[A-Za-z0-9._:%-]+$/.test(s)
}
