/**
 * Compact JWS/JWT helpers for the organization side (DCP tokens, VCs, VPs).
 *
 * Signing is EdDSA/Ed25519 only: that is what our org keys are. Verification
 * goes through `jose`, so it accepts whatever key a counter-party publishes
 * in its DID document (Ed25519, P-256, …), but only with an algorithm that
 * fits that key: the header `alg` is attacker-controlled, so it is checked
 * against the key, never the other way round, and `none` and symmetric
 * algorithms are refused outright (a public key must never be usable as an
 * HMAC secret).
 */
import { compactVerify, importJWK, type JWK } from 'jose'
import { AuthenticationError, BadRequestError } from '../errors.js'
import { b64u, fromB64u, utf8, utf8d } from '../identity/encoding.js'
import type { DidDocument, VerificationMethod } from '../identity/did-key.js'
import { ed25519KeyFromMethod } from '../identity/resolver.js'

export type { JWK } from 'jose'

/**
 * Anything that produces an Ed25519 signature under a key id. Narrower than
 * `Signer` in `identity/keys.ts` (no `did`): org keys are named
 * `did:web:…#key-1`, and the DID is not necessarily derivable from the key.
 */
export interface JwtSigner {
  /** Full verification method id, e.g. `did:web:127.0.0.1%3A8080:org:acme#key-1`. */
  readonly kid: string
  sign (data: Uint8Array): Uint8Array
}

export type JwtHeader = Record<string, unknown> & { alg: string }
export type JwtPayload = Record<string, unknown>

export interface DecodedJwt {
  header: JwtHeader
  payload: JwtPayload
  /** `base64url(header) + "." + base64url(payload)`: the bytes the signature covers. */
  signingInput: string
  signature: Uint8Array
}

/** The result of a successful verification. */
export interface VerifiedJwt extends DecodedJwt {
  /** The full key id the signature verified under. */
  kid: string
}

export interface VerifiedDidJwt extends VerifiedJwt {
  /** The DID whose document supplied the key (the `kid`'s DID, equal to `iss` when present). */
  did: string
  verificationMethod: VerificationMethod
}

/**
 * Why a verification failed (`details.reason` of the {@link AuthenticationError}).
 * Callers map these onto their own protocol errors.
 */
export type JwtFailureReason =
  | 'malformed'
  | 'alg_not_allowed'
  | 'missing_kid'
  | 'bad_kid'
  | 'iss_mismatch'
  | 'unresolvable_did'
  | 'unknown_key'
  | 'unsupported_key'
  | 'alg_mismatch'
  | 'bad_signature'
  | 'wrong_purpose'

/** A DID document verification relationship a key may be required to be listed under. */
export type VerificationPurpose = 'assertionMethod' | 'authentication'

export interface VerifyDidJwtOptions {
  /**
   * What the signature is for: credentials are `assertionMethod`. When set
   * and the document lists that relationship, the key must be referenced by
   * it (a key listed only for keyAgreement must not sign credentials); a
   * kid-less token tries only those keys. When the document has no such
   * relationship, its `verificationMethod` keys stand in (what older
   * documents, ours included before the relationships, do).
   */
  purpose?: VerificationPurpose
}

/**
 * Most keys tried for a kid-less token: the document is the signer's, so
 * a hostile one listing thousands of keys must not buy thousands of
 * signature checks.
 */
export const MAX_KEYS_TRIED = 16

/**
 * Largest JWT accepted. A VP carrying a handful of VCs is a few tens of KiB;
 * this only keeps a hostile input from being base64- and JSON-decoded whole.
 */
export const MAX_JWT_LENGTH = 1_000_000

/**
 * Sign `payload` as a compact JWS. `alg` and `kid` always come from the
 * signer (a caller-supplied header cannot make the token lie about them);
 * `typ` defaults to `JWT` and may be overridden, e.g. `vc+jwt`.
 */
export function signJwt (signer: JwtSigner, payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const h: Record<string, unknown> = { alg: 'EdDSA', typ: 'JWT', kid: signer.kid, ...header }
  h.alg = 'EdDSA'
  h.kid = signer.kid
  const signingInput = `${b64u(JSON.stringify(h))}.${b64u(JSON.stringify(payload))}`
  return `${signingInput}.${b64u(signer.sign(utf8.encode(signingInput)))}`
}

function jsonObject (part: string, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(utf8d.decode(fromB64u(part)))
  } catch {
    throw new BadRequestError(`JWT ${what} is not base64url-encoded JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequestError(`JWT ${what} is not a JSON object`)
  }
  return value as Record<string, unknown>
}

/**
 * Split and decode a compact JWS without verifying it. Strict on purpose:
 * exactly three non-empty base64url parts (so unsecured `alg: none` tokens
 * with an empty signature never get this far), JSON objects for header and
 * payload, a string `alg`. Throws {@link BadRequestError}.
 */
export function decodeJwt (jwt: string): DecodedJwt {
  if (typeof jwt !== 'string') throw new BadRequestError('JWT is not a string')
  if (jwt.length > MAX_JWT_LENGTH) throw new BadRequestError('JWT is too long', { maxLength: MAX_JWT_LENGTH })
  const parts = jwt.split('.')
  if (parts.length !== 3) throw new BadRequestError('JWT must have exactly three parts')
  const [h, p, s] = parts as [string, string, string]
  if (h === '' || p === '' || s === '') throw new BadRequestError('JWT has an empty part')
  const header = jsonObject(h, 'header')
  const payload = jsonObject(p, 'payload')
  if (typeof header.alg !== 'string') throw new BadRequestError('JWT header has no alg')
  let signature: Uint8Array
  try {
    signature = fromB64u(s)
  } catch {
    throw new BadRequestError('JWT signature is not base64url')
  }
  return { header: header as JwtHeader, payload, signingInput: `${h}.${p}`, signature }
}

function fail (reason: JwtFailureReason, message: string, cause?: unknown): AuthenticationError {
  return new AuthenticationError(message, { reason }, cause === undefined ? undefined : { cause })
}

function decodeForVerify (jwt: string): DecodedJwt {
  try {
    return decodeJwt(jwt)
  } catch (err) {
    throw fail('malformed', `malformed JWT: ${(err as Error).message}`, err)
  }
}

/** Algorithms each public key may verify. Anything absent here is refused. */
function algorithmsFor (jwk: JWK): string[] {
  switch (jwk.kty) {
    case 'OKP':
      return jwk.crv === 'Ed25519' ? ['EdDSA', 'Ed25519'] : []
    case 'EC':
      return jwk.crv === 'P-256' ? ['ES256'] : jwk.crv === 'P-384' ? ['ES384'] : jwk.crv === 'P-521' ? ['ES512'] : []
    case 'RSA':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
    default:
      return [] // 'oct' (symmetric) and anything unknown
  }
}

/** Keep only public members: a DID document that leaks `d` must still import as a public key. */
function publicMembers (jwk: Record<string, unknown>): JWK {
  const out: Record<string, unknown> = {}
  for (const k of ['kty', 'crv', 'x', 'y', 'n', 'e', 'alg']) if (jwk[k] !== undefined) out[k] = jwk[k]
  return out as JWK
}

async function verifyWithJwk (jwt: string, decoded: DecodedJwt, rawJwk: Record<string, unknown>, kid: string): Promise<void> {
  const alg = decoded.header.alg
  const jwk = publicMembers(rawJwk)
  const allowed = algorithmsFor(jwk)
  if (allowed.length === 0) throw fail('unsupported_key', `key ${kid} is of an unsupported type`)
  if (!allowed.includes(alg) || (typeof jwk.alg === 'string' && jwk.alg !== alg)) {
    throw fail('alg_mismatch', `alg ${alg} does not fit key ${kid}`)
  }
  let key: Awaited<ReturnType<typeof importJWK>>
  try {
    key = await importJWK({ ...jwk, alg }, alg)
  } catch (err) {
    throw fail('unsupported_key', `key ${kid} cannot be imported`, err)
  }
  try {
    await compactVerify(jwt, key, { algorithms: [alg] })
  } catch (err) {
    throw fail('bad_signature', 'JWT signature does not verify', err)
  }
}

function checkAlg (decoded: DecodedJwt): void {
  const alg = decoded.header.alg
  if (alg === 'none' || alg.startsWith('HS')) throw fail('alg_not_allowed', `alg ${alg} is not allowed`)
}

/**
 * Verify a JWT against keys the caller already trusts (e.g. a participant's
 * own non-revoked keys). `lookup` receives the header `kid` verbatim.
 * Failures throw {@link AuthenticationError} with `details.reason`.
 */
export async function verifyJwtWithKeys (jwt: string, lookup: (kid: string) => Promise<JWK | undefined>): Promise<VerifiedJwt> {
  const decoded = decodeForVerify(jwt)
  checkAlg(decoded)
  const kid = decoded.header.kid
  if (typeof kid !== 'string' || kid === '') throw fail('missing_kid', 'JWT header has no kid')
  const jwk = await lookup(kid)
  if (jwk === undefined) throw fail('unknown_key', `unknown key ${kid}`)
  await verifyWithJwk(jwt, decoded, jwk as Record<string, unknown>, kid)
  return { ...decoded, kid }
}

/** `did#frag` or a bare `#frag` resolved against `iss`; undefined if neither works. */
function splitKid (kid: string, iss: string | undefined): { did: string, fragment: string } | undefined {
  const hash = kid.indexOf('#')
  if (hash < 0 || hash === kid.length - 1) return undefined
  const did = hash === 0 ? iss : kid.slice(0, hash)
  if (did === undefined || !did.startsWith('did:')) return undefined
  return { did, fragment: kid.slice(hash + 1) }
}

function methodJwk (vm: VerificationMethod): Record<string, unknown> | undefined {
  if (vm.publicKeyJwk !== undefined) return vm.publicKeyJwk
  if (vm.publicKeyMultibase === undefined) return undefined
  let key: Uint8Array | undefined
  try {
    key = ed25519KeyFromMethod(vm)
  } catch {
    return undefined
  }
  return key === undefined ? undefined : { kty: 'OKP', crv: 'Ed25519', x: b64u(key) }
}

/** A method id as an absolute DID URL: documents may write `#key-1` for `did…#key-1`. */
function absoluteId (did: string, id: string): string {
  return id.startsWith('#') ? `${did}${id}` : id
}

function isMethod (v: unknown): v is VerificationMethod {
  return typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>).id === 'string'
}

/**
 * The methods a relationship references, as absolute ids, or undefined when
 * the document does not list the relationship at all. String references are
 * looked up in `verificationMethod`; embedded methods are taken as they are.
 * References into another DID's document are skipped: following them would
 * mean resolving documents the token's issuer does not control.
 */
function relationshipMethods (doc: DidDocument, did: string, purpose: VerificationPurpose): Map<string, VerificationMethod | undefined> | undefined {
  const rel: unknown = doc[purpose]
  if (!Array.isArray(rel)) return undefined
  const listed = new Map<string, VerificationMethod>()
  for (const vm of doc.verificationMethod ?? []) if (isMethod(vm)) listed.set(absoluteId(did, vm.id), vm)
  const out = new Map<string, VerificationMethod | undefined>()
  for (const entry of rel as unknown[]) {
    const id = typeof entry === 'string' ? absoluteId(did, entry) : isMethod(entry) ? absoluteId(did, entry.id) : undefined
    if (id === undefined || !id.startsWith(`${did}#`) || out.has(id)) continue
    out.set(id, typeof entry === 'string' ? listed.get(id) : entry as VerificationMethod)
  }
  return out
}

async function documentOf (did: string, resolveDocument: (did: string) => Promise<DidDocument>): Promise<DidDocument> {
  let doc: DidDocument
  try {
    doc = await resolveDocument(did)
  } catch (err) {
    throw fail('unresolvable_did', `cannot resolve ${did}`, err)
  }
  if (typeof doc !== 'object' || doc === null || doc.id !== did) throw fail('unresolvable_did', `DID document for ${did} has a different id`)
  return doc
}

/** Whether `alg` may verify under the method's key (so a kid-less token only costs checks that could succeed). */
function fits (vm: VerificationMethod, alg: string): boolean {
  const raw = methodJwk(vm)
  if (raw === undefined) return false
  const jwk = publicMembers(raw)
  return algorithmsFor(jwk).includes(alg) && (typeof jwk.alg !== 'string' || jwk.alg === alg)
}

/**
 * Verify a JWT signed by a DID.
 *
 * With a `kid` (`did#frag`, or `#frag` relative to `iss`), it names a
 * method of the DID document (listed in `verificationMethod`, or embedded
 * in the `purpose` relationship) whose `publicKeyJwk` or Ed25519
 * `publicKeyMultibase` must verify the signature. When `iss` is present it
 * must be the kid's DID, otherwise anyone could sign "as" another DID with
 * their own key.
 *
 * Without a `kid` (VCDM 1.1 JWTs only say it MAY be there; `did-jwt`
 * leaves it out by default), `iss` names the DID and the keys its document
 * offers for `purpose` are tried — only those whose type fits `alg`, at
 * most {@link MAX_KEYS_TRIED} — until one verifies.
 *
 * `resolveDocument` is e.g. `KeyResolver.prototype.resolveDocument`; any
 * error it throws becomes `unresolvable_did`. Failures throw
 * {@link AuthenticationError} with `details.reason` ({@link JwtFailureReason}).
 */
export async function verifyDidJwt (jwt: string, resolveDocument: (did: string) => Promise<DidDocument>, opts: VerifyDidJwtOptions = {}): Promise<VerifiedDidJwt> {
  const decoded = decodeForVerify(jwt)
  checkAlg(decoded)
  const iss = decoded.payload.iss
  if (iss !== undefined && typeof iss !== 'string') throw fail('malformed', 'JWT iss is not a string')
  const rawKid = decoded.header.kid
  if (rawKid === undefined && iss !== undefined) return await verifyWithoutKid(jwt, decoded, iss, resolveDocument, opts)
  if (typeof rawKid !== 'string' || rawKid === '') throw fail('missing_kid', 'JWT header has no kid (and no iss to find the key by)')
  const parts = splitKid(rawKid, iss)
  if (parts === undefined) throw fail('bad_kid', 'JWT kid is neither did#fragment nor #fragment with an iss')
  if (iss !== undefined && parts.did !== iss) throw fail('iss_mismatch', 'JWT kid names a DID other than iss')
  const doc = await documentOf(parts.did, resolveDocument)
  const kid = `${parts.did}#${parts.fragment}`
  const related = opts.purpose === undefined ? undefined : relationshipMethods(doc, parts.did, opts.purpose)
  const vm = (doc.verificationMethod ?? []).find(m => isMethod(m) && absoluteId(parts.did, m.id) === kid) ?? related?.get(kid)
  if (vm === undefined) throw fail('unknown_key', `${parts.did} has no verification method #${parts.fragment}`)
  if (related !== undefined && !related.has(kid)) throw fail('wrong_purpose', `${kid} is not listed for ${opts.purpose ?? ''} in ${parts.did}`)
  const jwk = methodJwk(vm)
  if (jwk === undefined) throw fail('unsupported_key', `verification method ${kid} has no usable public key`)
  await verifyWithJwk(jwt, decoded, jwk, kid)
  return { ...decoded, kid, did: parts.did, verificationMethod: vm }
}

async function verifyWithoutKid (
  jwt: string, decoded: DecodedJwt, did: string, resolveDocument: (did: string) => Promise<DidDocument>, opts: VerifyDidJwtOptions
): Promise<VerifiedDidJwt> {
  // A DID, not a DID URL: iss with a fragment, path or query would name a resource, not a key owner.
  if (!/^did:[a-z0-9]+:[^#?/\s]+$/.test(did)) throw fail('missing_kid', 'JWT header has no kid and iss is not a DID')
  const doc = await documentOf(did, resolveDocument)
  const related = opts.purpose === undefined ? undefined : relationshipMethods(doc, did, opts.purpose)
  const candidates: Array<[string, VerificationMethod]> = related !== undefined
    ? [...related].filter((e): e is [string, VerificationMethod] => e[1] !== undefined)
    : (doc.verificationMethod ?? []).filter(isMethod).map(vm => [absoluteId(did, vm.id), vm])
  const alg = decoded.header.alg
  const usable = candidates.filter(([, vm]) => fits(vm, alg)).slice(0, MAX_KEYS_TRIED)
  if (usable.length === 0) throw fail('unknown_key', `${did} lists no ${opts.purpose ?? 'verification method'} key that fits alg ${alg}`)
  let last: unknown
  for (const [kid, vm] of usable) {
    try {
      await verifyWithJwk(jwt, decoded, methodJwk(vm) ?? {}, kid)
      return { ...decoded, kid, did, verificationMethod: vm }
    } catch (err) {
      last = err
    }
  }
  throw fail('bad_signature', `JWT signature does not verify under any of ${did}'s ${usable.length} key(s) for ${opts.purpose ?? 'verification'}`, last)
}
