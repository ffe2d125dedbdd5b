/**
 * Acceptances: how a grantee's commit proves *when* and *by whom* it first
 * entered the owner's hubs.
 *
 * An app (or another owner) reaches the owner only through the request
 * protocol, where an owner device checks its grant against the device's own
 * clock. That device then signs an acceptance — `{ c: commit id, by: its hub
 * DID, at: its clock, g: the grant that allowed it }` — with its hub key, and
 * the acceptance travels with the commit wherever sync takes it. Every other
 * hub judges the commit by the acceptance (was the acceptor a trusted device,
 * was the grant unexpired at `at`), never by the signer's own
 * `committed_at`, which the signer chose.
 *
 * Format: a compact JWS (EdDSA) whose `kid` is the acceptor's did:key
 * verification method; pure functions, no storage.
 */
import { AuthenticationError, BadRequestError } from '../errors.js'
import { asDid, type Did } from '../ids.js'
import { b64u, fromB64u, utf8, utf8d } from '../identity/encoding.js'
import { didKeyFragment, publicKeyFromDidKey } from '../identity/did-key.js'
import { verifyEd25519, type Signer } from '../identity/keys.js'

export const ACCEPTANCE_TYP = 'hub-acceptance+jws'
/** An acceptance is small; anything larger is not one. */
export const MAX_ACCEPTANCE_BYTES = 2048

export interface Acceptance {
  /** The accepted commit's id. */
  commit: string
  /** Hub DID (did:key) of the owner device that accepted it. */
  by: Did
  /** The acceptor's clock when it accepted the commit, ms since the epoch. */
  at: number
  /** Id of the grant that allowed it (lets hubs that cannot read the commit's collection name it). */
  grant?: string
}

export function signAcceptance (a: Acceptance, signer: Signer): string {
  if (signer.did !== a.by) throw new BadRequestError('an acceptance is signed by its acceptor')
  const header = b64u(JSON.stringify({ alg: 'EdDSA', typ: ACCEPTANCE_TYP, kid: signer.kid }))
  const payload = b64u(JSON.stringify({ c: a.commit, by: a.by, at: a.at, ...(a.grant !== undefined ? { g: a.grant } : {}) }))
  return `${header}.${payload}.${b64u(signer.sign(utf8.encode(`${header}.${payload}`)))}`
}

function json (part: string): Record<string, unknown> {
  let v: unknown
  try {
    v = JSON.parse(utf8d.decode(fromB64u(part)))
  } catch {
    throw new BadRequestError('acceptance is not a compact JWS of JSON')
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadRequestError('acceptance is not a compact JWS of JSON')
  return v as Record<string, unknown>
}

/**
 * Parse and verify an acceptance of `commitId`: structure, the acceptor's
 * signature (its did:key is its public key: no resolution), and that it names
 * this commit. Throws `bad_request` or `authentication_failed`. Whether the
 * acceptor may accept for this owner is the validity rule's job.
 */
export function verifyAcceptance (jws: string, commitId: string): Acceptance {
  if (typeof jws !== 'string' || jws.length > MAX_ACCEPTANCE_BYTES) throw new BadRequestError('acceptance is malformed or too large')
  const parts = jws.split('.')
  if (parts.length !== 3) throw new BadRequestError('acceptance is not a compact JWS')
  const [h, p, s] = parts as [string, string, string]
  const header = json(h)
  const claims = json(p)
  const by = claims.by
  const at = claims.at
  if (header.alg !== 'EdDSA' || header.typ !== ACCEPTANCE_TYP) throw new BadRequestError('not an acceptance')
  if (typeof by !== 'string' || !by.startsWith('did:key:') || header.kid !== `${by}#${didKeyFragment(by)}`) throw new BadRequestError('acceptance must be signed by its acceptor\'s did:key')
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) throw new BadRequestError('acceptance has no valid time')
  if (claims.g !== undefined && typeof claims.g !== 'string') throw new BadRequestError('acceptance names its grant by id')
  if (claims.c !== commitId) throw new BadRequestError('acceptance names another commit')
  let key: Uint8Array
  let sig: Uint8Array
  try {
    key = publicKeyFromDidKey(by)
    sig = fromB64u(s)
  } catch {
    throw new BadRequestError('acceptance signer or signature is malformed')
  }
  if (!verifyEd25519(key, utf8.encode(`${h}.${p}`), sig)) throw new AuthenticationError('acceptance signature does not verify', { commitId })
  return { commit: commitId, by: asDid(by), at, ...(typeof claims.g === 'string' ? { grant: claims.g } : {}) }
}
