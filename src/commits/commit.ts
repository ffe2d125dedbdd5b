/**
 * Commit envelope v1: create, sign, parse and verify. Pure functions over
 * bytes; no storage, no network. See `protocols/commit.md`.
 *
 * The commit id is a CIDv1 (codec raw, sha2-256) over the ASCII bytes of
 * `protected + "." + payload`, i.e. the JWS signing input, so anyone can
 * recompute it and a signature covers exactly what the id names.
 */
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { platformCrypto } from '#platform/crypto'
import { verifyMany } from '#platform/verify-pool'
import { AuthenticationError, BadRequestError, TooLargeError } from '../errors.js'
import { asCommitId, asDid, asObjectId, type CommitId, type Did, type ObjectId } from '../ids.js'
import { b64u, fromB64u, utf8, utf8d } from '../identity/encoding.js'
import { verifyEd25519Async, type Signer } from '../identity/keys.js'
import { schemaErrorText, validateEnvelope, validateHeader, type CommitEnvelope, type CommitHeader } from './schema.js'

export type { CommitEnvelope, CommitHeader, CommitStrategy, InterfaceName, Operation } from './schema.js'

/** A parsed, structurally valid commit. Its signature may not be verified yet. */
export interface Commit {
  readonly id: CommitId
  readonly header: CommitHeader
  readonly envelope: CommitEnvelope
  /** Decoded payload bytes (Automerge change, LWW JSON, or a compact JWE). */
  readonly payload: Uint8Array
  /** DID of the signer, taken from `kid`. */
  readonly signer: Did
  /** For a create, the commit's own id; otherwise `header.object_id`. */
  readonly objectId: ObjectId
  /** Size of the serialized envelope in bytes. */
  readonly size: number
}

declare const verified: unique symbol
/**
 * A commit whose signature has been checked against its signer's key. Only
 * {@link verifyCommit} and {@link signCommit} (which made the signature)
 * produce one, and the store ingests nothing else: skipping verification is
 * a type error, not a convention.
 */
export type VerifiedCommit = Commit & { readonly [verified]: true }

/** Default maximum serialized commit size: 1 MiB. */
export const DEFAULT_MAX_COMMIT_BYTES = 1024 * 1024

const RAW_CODEC = 0x55
const SHA2_256 = 0x12

export function commitIdOf (protectedB64: string, payloadB64: string): CommitId {
  const hash = platformCrypto.sha256(protectedB64, '.', payloadB64)
  return asCommitId(CID.createV1(RAW_CODEC, Digest.create(SHA2_256, hash)).toString())
}

export type UnsignedHeader = Omit<CommitHeader, 'alg' | 'kid'>

/**
 * `context` and `type` must be well-formed Unicode: they are written into
 * index keys, which the stores keep as UTF-8, so `urn:\uD800` and
 * `urn:\uFFFD` would share one sort range and one pairs key — a query for
 * one pair (and a grantee's query authorized for it) listed the other's
 * objects, and after a reopen a query by the lone-surrogate context found
 * nothing (test/attacks-2026-12-04.test.ts). The JSON schema cannot say it.
 */
function checkNames (header: CommitHeader): void {
  // A lone surrogate (not well-formed) is what UTF-8, every store's key encoding, turns into U+FFFD.
  if (header.context?.isWellFormed() === false || header.type?.isWellFormed() === false) {
    throw new BadRequestError('invalid commit header: context and type must be well-formed Unicode (no lone surrogate)')
  }
}

/** The full protected header `signCommit` will sign for these fields (needed before sealing a payload to it). */
export function headerFor (fields: UnsignedHeader, signer: Signer): CommitHeader {
  return { alg: 'EdDSA', kid: signer.kid, ...fields }
}

/** Build and sign a commit. The header's `alg`/`kid` come from the signer. */
export function signCommit (fields: UnsignedHeader, payload: Uint8Array, signer: Signer): VerifiedCommit {
  const header = headerFor(fields, signer)
  if (!validateHeader(header)) throw new BadRequestError(`invalid commit header: ${schemaErrorText(validateHeader.errors)}`)
  checkNames(header)
  const protectedB64 = b64u(JSON.stringify(header))
  const payloadB64 = b64u(payload)
  const signature = b64u(signer.sign(utf8.encode(`${protectedB64}.${payloadB64}`)))
  const envelope = { protected: protectedB64, payload: payloadB64, signature }
  const id = commitIdOf(protectedB64, payloadB64)
  return {
    id,
    header,
    envelope,
    payload,
    signer: signer.did,
    objectId: header.object_id ?? asObjectId(id),
    size: protectedB64.length + payloadB64.length + signature.length + 40
  } as VerifiedCommit
}

/**
 * Parse an envelope (JSON text or object) into a Commit, checking structure
 * only. Throws `too_large` past `maxBytes` and `bad_request` for anything
 * malformed. Does not verify the signature: see {@link verifyCommit}.
 */
export function parseCommit (input: string | unknown, maxBytes = DEFAULT_MAX_COMMIT_BYTES): Commit {
  let value: unknown = input
  if (typeof input === 'string') {
    if (input.length > maxBytes) throw new TooLargeError(`commit exceeds ${maxBytes} bytes`, { limit: maxBytes })
    try {
      value = JSON.parse(input)
    } catch {
      throw new BadRequestError('commit is not valid JSON')
    }
  }
  if (!validateEnvelope(value)) throw new BadRequestError(`invalid commit envelope: ${schemaErrorText(validateEnvelope.errors)}`)
  const envelope: CommitEnvelope = { protected: value.protected, payload: value.payload, signature: value.signature, ...(value.header !== undefined ? { header: { acc: value.header.acc } } : {}) }
  const size = envelope.protected.length + envelope.payload.length + envelope.signature.length + 40 + (envelope.header === undefined ? 0 : envelope.header.acc.length + 20)
  if (size > maxBytes) throw new TooLargeError(`commit exceeds ${maxBytes} bytes`, { limit: maxBytes })
  let header: unknown
  try {
    header = JSON.parse(utf8d.decode(fromB64u(envelope.protected)))
  } catch {
    throw new BadRequestError('commit protected header is not base64url JSON')
  }
  if (!validateHeader(header)) throw new BadRequestError(`invalid commit header: ${schemaErrorText(validateHeader.errors)}`)
  checkNames(header)
  const id = commitIdOf(envelope.protected, envelope.payload)
  return {
    id,
    header,
    envelope,
    payload: fromB64u(envelope.payload),
    signer: asDid(header.kid.slice(0, header.kid.indexOf('#'))),
    objectId: header.object_id ?? asObjectId(id),
    size
  }
}

/** Resolves a key id to a raw Ed25519 public key, or throws. */
export type KeyLookup = (kid: string) => Uint8Array | Promise<Uint8Array>

/** Verify the JWS signature; the same commit, now typed as verified. Throws `authentication_failed`. */
export async function verifyCommit (commit: Commit, lookup: KeyLookup): Promise<VerifiedCommit> {
  const key = await lookup(commit.header.kid)
  let signature: Uint8Array
  try {
    signature = fromB64u(commit.envelope.signature)
  } catch {
    throw new AuthenticationError('commit signature is not base64url', { commitId: commit.id })
  }
  const input = utf8.encode(`${commit.envelope.protected}.${commit.envelope.payload}`)
  if (!await verifyEd25519Async(key, input, signature)) {
    throw new AuthenticationError('commit signature does not verify', { commitId: commit.id })
  }
  return commit as VerifiedCommit
}

/**
 * Verify a batch (a sync page) at once: {@link verifyCommit} for each, the
 * signatures checked together through the platform's batch verifier (in
 * Node on its thread pool, every core; see platform/verify-pool-node.ts).
 * Keys are looked up once per key id. Throws for the first commit, in
 * order, that does not verify, exactly as verifyCommit would.
 */
export async function verifyCommits (commits: readonly Commit[], lookup: KeyLookup): Promise<VerifiedCommit[]> {
  const keys = new Map<string, Promise<Uint8Array>>()
  const keyOf = async (kid: string): Promise<Uint8Array> => {
    let k = keys.get(kid)
    if (k === undefined) {
      k = Promise.resolve(lookup(kid))
      keys.set(kid, k)
      k.catch(() => {})
    }
    return await k
  }
  const items = await Promise.all(commits.map(async c => {
    const publicKey = await keyOf(c.header.kid)
    let signature: Uint8Array
    try {
      signature = fromB64u(c.envelope.signature)
    } catch {
      throw new AuthenticationError('commit signature is not base64url', { commitId: c.id })
    }
    return { publicKey, data: utf8.encode(`${c.envelope.protected}.${c.envelope.payload}`), signature }
  }))
  const verdicts = await verifyMany(items)
  const bad = verdicts.findIndex(ok => !ok)
  if (bad >= 0) throw new AuthenticationError('commit signature does not verify', { commitId: (commits[bad] as Commit).id })
  return commits as VerifiedCommit[]
}

/** The same commit carrying `acceptance` in its unprotected header (replacing any it had). */
export function withAcceptance<C extends Commit> (commit: C, acceptance: string | undefined): C {
  const { header: _old, ...signed } = commit.envelope
  const envelope: CommitEnvelope = acceptance === undefined ? signed : { ...signed, header: { acc: acceptance } }
  return { ...commit, envelope }
}

/** The envelope as compact JSON, the form stored and sent on the wire. */
export function serializeCommit (commit: Commit): string {
  return JSON.stringify(commit.envelope)
}

/** Milliseconds since the epoch of `committed_at`. */
export function committedAtMs (header: CommitHeader): number {
  return Date.parse(header.committed_at)
}

/** LWW order: later `committed_at` wins, ties go to the larger commit id. */
export function lwwCompare (a: { at: number, id: string }, b: { at: number, id: string }): number {
  if (a.at !== b.at) return a.at - b.at
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

