/**
 * verifyPresentationResponse on its own: real Ed25519 keys and JWS, DID
 * documents served from memory, a status checker stub where the verdict is
 * the point. Each hostile answer is checked by the stable finding code it
 * must produce, and never by an exception.
 */
import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { BadRequestError } from '../../errors.js'
import type { DidDocument } from '../../identity/did-key.js'
import { Ed25519KeyPair } from '../../identity/keys.js'
import { signJwt, type JwtSigner } from '../jwt.js'
import type { StatusCheckable, StatusVerdict } from '../status-checker.js'
import { VC_V1_CONTEXT, VC_V2_CONTEXT } from '../vc.js'
import { buildPresentations, createVpJwt, envelope, presentationResponse } from './presentation.js'
import { DCP_CONTEXT } from './schemas.js'
import { parseScopes } from './scopes.js'
import { MAX_CREDENTIALS, MAX_PRESENTATIONS, verifyPresentationResponse, type VerificationReport, type VerifyPresentationOptions } from './verifier.js'

const HOLDER = 'did:web:127.0.0.1%3A8080:org:acme'
const VERIFIER = 'did:web:127.0.0.1%3A8080:org:beta'
const ISSUER = 'did:web:127.0.0.1%3A8080:org:issuer'
const MALLORY = 'did:web:127.0.0.1%3A8080:org:mallory'
const MEMBERSHIP = 'org.eclipse.dspace.dcp.vc.type:MembershipCredential'
const NOW = 1_800_000_000

const keys = { holder: Ed25519KeyPair.generate(), issuer: Ed25519KeyPair.generate(), mallory: Ed25519KeyPair.generate() }

function signer (kp: Ed25519KeyPair, did: string, fragment = 'key-1'): JwtSigner {
  return { kid: `${did}#${fragment}`, sign: d => kp.sign(d) }
}

function doc (did: string, kp: Ed25519KeyPair): DidDocument {
  const id = `${did}#key-1`
  return { '@context': ['https://www.w3.org/ns/did/v1'], id: did, verificationMethod: [{ id, type: 'JsonWebKey2020', controller: did, publicKeyJwk: kp.publicJwk() }], authentication: [id], assertionMethod: [id] }
}

const docs = new Map<string, DidDocument>([[HOLDER, doc(HOLDER, keys.holder)], [ISSUER, doc(ISSUER, keys.issuer)], [MALLORY, doc(MALLORY, keys.mallory)]])
const resolved: string[] = []
async function resolveDocument (did: string): Promise<DidDocument> {
  resolved.push(did)
  const d = docs.get(did)
  if (d === undefined) throw new Error(`no DID document for ${did}`)
  return d
}

const holderSigner = signer(keys.holder, HOLDER)
const issuerSigner = signer(keys.issuer, ISSUER)

/** A VCDM 1.1 JWT VC from the issuer (default: about the holder, valid around NOW). */
function vc11 (o: { subject?: string | null, nbf?: number, exp?: number, types?: string[], status?: unknown, by?: JwtSigner, iss?: string } = {}): string {
  const id = `urn:uuid:${randomUUID()}`
  const subject = o.subject === undefined ? HOLDER : o.subject
  return signJwt(o.by ?? issuerSigner, {
    iss: o.iss ?? ISSUER,
    ...(subject !== null ? { sub: subject } : {}),
    jti: id,
    nbf: o.nbf ?? NOW - 3600,
    exp: o.exp ?? NOW + 86_400,
    vc: {
      '@context': [VC_V1_CONTEXT],
      type: ['VerifiableCredential', ...(o.types ?? ['MembershipCredential'])],
      credentialSubject: { ...(subject !== null ? { id: subject } : {}), memberOf: 'dataspace' },
      ...(o.status !== undefined ? { credentialStatus: o.status } : {})
    }
  })
}

/** A VCDM 2.0 vc+jwt: the claims are the credential. */
function vc20 (o: { subject?: string } = {}): string {
  return signJwt(issuerSigner, {
    '@context': [VC_V2_CONTEXT],
    id: `urn:uuid:${randomUUID()}`,
    type: ['VerifiableCredential', 'MembershipCredential'],
    issuer: ISSUER,
    validFrom: new Date((NOW - 3600) * 1000).toISOString(),
    validUntil: new Date((NOW + 86_400) * 1000).toISOString(),
    credentialSubject: { id: o.subject ?? HOLDER, memberOf: 'dataspace' }
  }, { typ: 'vc+jwt' })
}

function answer (vps: unknown[]): unknown {
  return { '@context': [DCP_CONTEXT], type: 'PresentationResponseMessage', presentation: vps }
}

/** A VCDM 1.1 VP with arbitrary claims, signed by `by` (default the holder). */
function rawVp (claims: Record<string, unknown>, by: JwtSigner = holderSigner): string {
  return signJwt(by, {
    iss: HOLDER, sub: HOLDER, aud: VERIFIER, iat: NOW, nbf: NOW, exp: NOW + 300, jti: `urn:uuid:${randomUUID()}`,
    vp: { '@context': [VC_V1_CONTEXT], type: ['VerifiablePresentation'], holder: HOLDER, verifiableCredential: [vc11()] },
    ...claims
  })
}

function vp11 (credentials: string[], o: { audience?: string, now?: number, by?: JwtSigner, holder?: string } = {}): string {
  return createVpJwt(o.by ?? holderSigner, { holderDid: o.holder ?? HOLDER, audience: o.audience ?? VERIFIER, credentials, now: o.now ?? NOW })
}

const base: VerifyPresentationOptions = { holderDid: HOLDER, verifierDid: VERIFIER, nowS: NOW, resolveDocument, requestedScopes: parseScopes([MEMBERSHIP]) }

async function verify (msg: unknown, o: Partial<VerifyPresentationOptions> = {}): Promise<VerificationReport> {
  return await verifyPresentationResponse(msg, { ...base, ...o })
}

const codes = (r: VerificationReport): string[] => [
  ...r.problems.map(p => p.code),
  ...r.presentations.flatMap(p => p.problems.map(x => x.code)),
  ...r.credentials.flatMap(c => c.problems.map(x => x.code)),
  ...r.missing.map(() => 'missing')
].sort()

/** A status checker whose verdict is fixed, recording what it was asked. */
function statusStub (verdict: StatusVerdict): { check: (c: StatusCheckable) => Promise<StatusVerdict>, asked: string[] } {
  const asked: string[] = []
  return { asked, check: async c => { asked.push(c.id); return verdict } }
}

describe('verifyPresentationResponse: what a good answer looks like', () => {
  it('a VCDM 1.1 VP with the holder\'s credential: every check passes, nothing missing', async () => {
    const r = await verify(presentationResponse([vp11([vc11()])]), { statusChecker: statusStub({ presentable: true }) })
    expect(r).toMatchObject({ ok: true, holder: HOLDER, problems: [], missing: [], presentations: [{ index: 0, ok: true, dataModel: '1.1', problems: [] }] })
    expect(r.credentials).toHaveLength(1)
    expect(r.credentials[0]).toMatchObject({
      ok: true, issuer: ISSUER, subject: HOLDER, dataModel: '1.1', presentation: 0,
      types: ['VerifiableCredential', 'MembershipCredential'],
      checks: { signature: 'pass', validity: 'pass', status: 'pass', holderBinding: 'pass' }
    })
  })

  it('both data models as buildPresentations makes them (1.1 VP and an enveloped 2.0 vp+jwt)', async () => {
    const built = buildPresentations(holderSigner, {
      holderDid: HOLDER, audience: VERIFIER, now: NOW,
      credentials: [{ raw: vc11({ types: ['OtherCredential'] }), dataModel: '1.1' }, { raw: vc20(), dataModel: '2.0' }]
    })
    const r = await verify(presentationResponse(built.presentations), { requestedScopes: parseScopes([MEMBERSHIP, 'org.eclipse.dspace.dcp.vc.type:OtherCredential']) })
    expect(codes(r)).toEqual([])
    expect(r.ok).toBe(true)
    expect(r.presentations.map(p => p.dataModel)).toEqual(['1.1', '2.0'])
    expect(r.credentials.map(c => [c.dataModel, c.presentation])).toEqual([['1.1', 0], ['2.0', 1]])
    // No status checker given: status is not checked, and says so.
    expect(r.credentials.every(c => c.checks.status === 'skip')).toBe(true)
  })

  it('an empty VP with no scope requested is ok; with one requested it is missing', async () => {
    expect((await verify(presentationResponse([vp11([])]), { requestedScopes: [] })).ok).toBe(true)
    const r = await verify(presentationResponse([vp11([])]))
    expect(r.ok).toBe(false)
    expect(r.missing).toEqual([MEMBERSHIP])
  })

  it('did:web spellings compare canonically (%3a = %3A)', async () => {
    const r = await verify(presentationResponse([vp11([vc11()])]), { holderDid: HOLDER.replace('%3A', '%3a'), verifierDid: VERIFIER.replace('%3A', '%3a') })
    expect(codes(r)).toEqual([])
  })

  it('each DID is resolved once per verification', async () => {
    resolved.length = 0
    await verify(presentationResponse([vp11([vc11(), vc11(), vc11()])]))
    expect(resolved.filter(d => d === ISSUER)).toHaveLength(1)
    expect(resolved.filter(d => d === HOLDER)).toHaveLength(1)
  })
})

describe('verifyPresentationResponse: the message', () => {
  it.each([
    ['not an object', 'presentations please'],
    ['null', null],
    ['wrong type', { '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', presentation: [] }],
    ['no presentation', { '@context': [DCP_CONTEXT], type: 'PresentationResponseMessage' }],
    ['presentation not an array', { '@context': [DCP_CONTEXT], type: 'PresentationResponseMessage', presentation: 'x.y.z' }],
    ['an error body', { error: { code: 'internal', message: 'boom' } }]
  ])('%s → schema_violation, everything requested missing', async (_, msg) => {
    const r = await verify(msg)
    expect(r.ok).toBe(false)
    expect(r.problems.map(p => p.code)).toEqual(['schema_violation'])
    expect(r.presentations).toEqual([])
    expect(r.missing).toEqual([MEMBERSHIP])
  })

  it('more presentations than the cap: the rest are not checked', async () => {
    const vp = vp11([vc11()])
    const r = await verify(answer(Array.from({ length: MAX_PRESENTATIONS + 3 }, () => vp)))
    expect(r.problems.map(p => p.code)).toEqual(['too_many_presentations'])
    expect(r.presentations).toHaveLength(MAX_PRESENTATIONS)
    expect(r.ok).toBe(false)
  })
})

describe('verifyPresentationResponse: the presentation', () => {
  it('a JSON-LD VP object → unsupported_presentation; a non-JWT string and a VC in place of a VP → malformed_vp', async () => {
    const r = await verify(answer([{ '@context': [VC_V1_CONTEXT], type: ['VerifiablePresentation'], proof: {} }, 'not-a-jwt', vc11()]))
    expect(r.presentations.map(p => p.problems.map(x => x.code))).toEqual([['unsupported_presentation'], ['malformed_vp'], ['malformed_vp']])
    expect(r.missing).toEqual([MEMBERSHIP])
  })

  it('signed by a key not in the holder\'s document, under the holder\'s kid → bad_vp_signature (bad_signature)', async () => {
    const forged = vp11([vc11()], { by: signer(keys.mallory, HOLDER) })
    const r = await verify(presentationResponse([forged]))
    expect(r.presentations[0]?.problems).toMatchObject([{ code: 'bad_vp_signature', details: { reason: 'bad_signature' } }])
    // The credential inside is genuine, but it came in a presentation nobody can vouch for.
    expect(r.credentials[0]).toMatchObject({ ok: false, checks: { signature: 'pass', holderBinding: 'pass' } })
    expect(r.credentials[0]?.problems.map(p => p.code)).toEqual(['in_rejected_presentation'])
    expect(r.missing).toEqual([MEMBERSHIP])
  })

  it('a kid the holder\'s document does not list → bad_vp_signature (unknown_key)', async () => {
    const r = await verify(presentationResponse([vp11([vc11()], { by: signer(keys.holder, HOLDER, 'key-9') })]))
    expect(r.presentations[0]?.problems).toMatchObject([{ code: 'bad_vp_signature', details: { reason: 'unknown_key' } }])
  })

  it('another DID\'s own valid VP → bad_vp_signature and vp_wrong_holder', async () => {
    const r = await verify(presentationResponse([vp11([vc11({ subject: MALLORY })], { by: signer(keys.mallory, MALLORY), holder: MALLORY })]))
    expect(r.presentations[0]?.problems.map(p => p.code).sort()).toEqual(['bad_vp_signature', 'vp_wrong_holder'])
    expect(r.ok).toBe(false)
  })

  it('vp.holder other than iss → vp_wrong_holder', async () => {
    const r = await verify(answer([rawVp({ vp: { '@context': [VC_V1_CONTEXT], type: ['VerifiablePresentation'], holder: MALLORY, verifiableCredential: [vc11()] } })]))
    expect(r.presentations[0]?.problems.map(p => p.code)).toEqual(['vp_wrong_holder'])
  })

  it('a VP for another verifier → wrong_audience', async () => {
    const r = await verify(presentationResponse([vp11([vc11()], { audience: MALLORY })]))
    expect(r.presentations[0]?.problems.map(p => p.code)).toEqual(['wrong_audience'])
    expect(r.missing).toEqual([MEMBERSHIP])
  })

  it('aud as an array containing the verifier is fine', async () => {
    expect(codes(await verify(answer([rawVp({ aud: [MALLORY, VERIFIER] })])))).toEqual([])
  })

  it('expiry: within the 60 s skew fine, past it vp_expired, no exp at all vp_expired', async () => {
    const vp = vp11([vc11()]) // exp = NOW + 300
    expect(codes(await verify(presentationResponse([vp]), { nowS: NOW + 359 }))).toEqual([])
    expect((await verify(presentationResponse([vp]), { nowS: NOW + 360 })).presentations[0]?.problems.map(p => p.code)).toEqual(['vp_expired'])
    expect((await verify(answer([rawVp({ exp: undefined })]))).presentations[0]?.problems.map(p => p.code)).toEqual(['vp_expired'])
  })

  it('nbf or iat in the future beyond the skew → vp_not_yet_valid', async () => {
    expect(codes(await verify(presentationResponse([vp11([vc11()], { now: NOW + 60 })])))).toEqual([])
    expect((await verify(answer([rawVp({ nbf: NOW + 61 })]))).presentations[0]?.problems.map(p => p.code)).toEqual(['vp_not_yet_valid'])
    expect((await verify(answer([rawVp({ nbf: undefined, iat: NOW + 61 })]))).presentations[0]?.problems.map(p => p.code)).toEqual(['vp_not_yet_valid'])
  })

  it('claims of the wrong type → malformed_vp', async () => {
    expect((await verify(answer([rawVp({ exp: 'tomorrow' })]))).presentations[0]?.problems.map(p => p.code)).toEqual(['malformed_vp'])
    expect((await verify(answer([rawVp({ vp: 'yes' })]))).presentations[0]?.problems.map(p => p.code)).toEqual(['malformed_vp'])
    expect((await verify(answer([rawVp({ vp: { type: ['VerifiableCredential'] } })]))).presentations[0]?.problems.map(p => p.code)).toEqual(['malformed_vp'])
  })

  it('the holder\'s DID cannot be resolved → bad_vp_signature (unresolvable_did), not an exception', async () => {
    const r = await verify(presentationResponse([vp11([vc11()])]), { resolveDocument: async () => { throw new Error('offline') } })
    expect(r.presentations[0]?.problems).toMatchObject([{ code: 'bad_vp_signature', details: { reason: 'unresolvable_did' } }])
    expect(r.credentials[0]?.problems.map(p => p.code).sort()).toEqual(['bad_signature', 'in_rejected_presentation'])
  })

  it('more credentials than the cap, across presentations → too_many_credentials, the rest unchecked', async () => {
    const cred = vc11()
    const half = Array.from({ length: MAX_CREDENTIALS / 2 + 1 }, () => cred)
    const r = await verify(presentationResponse([vp11(half), vp11(half)]))
    expect(r.presentations.map(p => p.problems.map(x => x.code))).toEqual([[], ['too_many_credentials']])
    expect(r.credentials).toHaveLength(MAX_CREDENTIALS)
    expect(r.ok).toBe(false)
  })
})

describe('verifyPresentationResponse: the credentials', () => {
  it('signed by someone else under the issuer\'s name → bad_signature; status then not looked up', async () => {
    const status = statusStub({ presentable: true })
    const forged = vc11({ by: signer(keys.mallory, ISSUER), status: { type: 'BitstringStatusListEntry' } })
    const r = await verify(presentationResponse([vp11([forged])]), { statusChecker: status })
    expect(r.credentials[0]).toMatchObject({ ok: false, checks: { signature: 'fail', status: 'skip' }, problems: [{ code: 'bad_signature', details: { reason: 'bad_signature' } }] })
    expect(status.asked).toEqual([])
    expect(r.missing).toEqual([MEMBERSHIP])
  })

  it('a VCDM 2.0 credential whose issuer claim names another DID than its signer → bad_signature', async () => {
    const lying = signJwt(signer(keys.mallory, MALLORY), {
      '@context': [VC_V2_CONTEXT], type: ['VerifiableCredential', 'MembershipCredential'], issuer: ISSUER, credentialSubject: { id: HOLDER }
    })
    const r = await verify(answer([signJwt(holderSigner, {
      '@context': [VC_V2_CONTEXT], type: ['VerifiablePresentation'], holder: HOLDER, verifiableCredential: [envelope(lying)],
      iss: HOLDER, aud: VERIFIER, iat: NOW, exp: NOW + 300
    }, { typ: 'vp+jwt' })]))
    expect(r.presentations[0]).toMatchObject({ ok: true, dataModel: '2.0' })
    expect(r.credentials[0]).toMatchObject({ ok: false, problems: [{ code: 'bad_signature', details: { reason: 'iss_mismatch' } }] })
  })

  it('expired and not yet valid', async () => {
    const r = await verify(presentationResponse([vp11([vc11({ nbf: NOW - 7200, exp: NOW - 1 }), vc11({ nbf: NOW + 1, exp: NOW + 3600 })])]))
    expect(r.credentials.map(c => [c.checks.validity, c.problems.map(p => p.code)])).toEqual([['fail', ['expired']], ['fail', ['not_yet_valid']]])
    expect(r.missing).toEqual([MEMBERSHIP])
  })

  it('revoked, suspended, unverifiable and a checker that throws', async () => {
    const status = { revocation: { type: 'BitstringStatusListEntry' } }
    const cases: Array<[StatusVerdict | 'throw', string]> = [
      [{ presentable: false, reason: 'revoked', detail: 'bit 3', statusListCredential: 'https://x/1' }, 'revoked'],
      [{ presentable: false, reason: 'suspended', detail: 'bit 4' }, 'suspended'],
      [{ presentable: false, reason: 'unverifiable', detail: 'list unreachable', code: 'unavailable' }, 'status_unverifiable'],
      ['throw', 'status_unverifiable']
    ]
    for (const [verdict, code] of cases) {
      const checker = { check: async (): Promise<StatusVerdict> => { if (verdict === 'throw') throw new Error('bug'); return verdict } }
      const r = await verify(presentationResponse([vp11([vc11({ status })])]), { statusChecker: checker })
      expect(r.credentials[0]).toMatchObject({ ok: false, checks: { signature: 'pass', status: 'fail' }, problems: [{ code }] })
      expect(r.missing).toEqual([MEMBERSHIP])
    }
  })

  it('about someone else → holder_mismatch; about no one → no_subject', async () => {
    const r = await verify(presentationResponse([vp11([vc11({ subject: MALLORY }), vc11({ subject: null })])]))
    expect(r.credentials.map(c => [c.checks.holderBinding, c.problems.map(p => p.code)])).toEqual([['fail', ['holder_mismatch']], ['fail', ['no_subject']]])
    expect(r.presentations[0]?.ok).toBe(true)
    expect(r.missing).toEqual([MEMBERSHIP])
  })

  it('one good credential and one bad: the scope is matched, the report is still not ok', async () => {
    const r = await verify(presentationResponse([vp11([vc11(), vc11({ exp: NOW - 1 })])]))
    expect(r.missing).toEqual([])
    expect(r.credentials.map(c => c.ok)).toEqual([true, false])
    expect(r.ok).toBe(false)
  })

  it('not a credential, an object in a 1.1 VP, a bare JWT in a 2.0 VP, a 2.0 credential in a 1.1 VP', async () => {
    const r = await verify(answer([
      vp11(['garbage', vc20()]),
      rawVp({ vp: { '@context': [VC_V1_CONTEXT], type: ['VerifiablePresentation'], verifiableCredential: [{ type: ['VerifiableCredential'] }] } }),
      signJwt(holderSigner, { '@context': [VC_V2_CONTEXT], type: ['VerifiablePresentation'], verifiableCredential: [vc20()], iss: HOLDER, aud: VERIFIER, iat: NOW, exp: NOW + 300 })
    ]))
    expect(r.credentials.map(c => c.problems.map(p => p.code))).toEqual([['malformed_credential'], ['data_model_mismatch']])
    expect(r.presentations.map(p => p.problems.map(x => x.code))).toEqual([[], ['unsupported_credential'], ['unsupported_credential']])
  })

  it('requested by id: only the credential with that id counts', async () => {
    const cred = vc11()
    const id = (JSON.parse(Buffer.from(cred.split('.')[1] as string, 'base64url').toString()) as { jti: string }).jti
    const r = await verify(presentationResponse([vp11([cred])]), { requestedScopes: parseScopes([`org.eclipse.dspace.dcp.vc.id:${id}`, 'org.eclipse.dspace.dcp.vc.id:urn:uuid:other']) })
    expect(r.missing).toEqual(['org.eclipse.dspace.dcp.vc.id:urn:uuid:other'])
  })
})

describe('verifyPresentationResponse: verification relationships', () => {
  /** A document whose key-2 is listed for one relationship only. */
  function split (did: string, main: Ed25519KeyPair, other: Ed25519KeyPair, only: 'authentication' | 'assertionMethod'): DidDocument {
    const d = doc(did, main)
    const id2 = `${did}#key-2`
    return { ...d, verificationMethod: [...(d.verificationMethod ?? []), { id: id2, type: 'JsonWebKey2020', controller: did, publicKeyJwk: other.publicJwk() }], [only]: [...(d[only] as string[]), id2] }
  }

  it('a VP signed by a key the holder lists only for assertions → bad_vp_signature (wrong_purpose)', async () => {
    const k2 = Ed25519KeyPair.generate()
    const holderDoc = split(HOLDER, keys.holder, k2, 'assertionMethod')
    const resolve = async (did: string): Promise<DidDocument> => did === HOLDER ? holderDoc : await resolveDocument(did)
    const r = await verify(presentationResponse([vp11([vc11()], { by: signer(k2, HOLDER, 'key-2') })]), { resolveDocument: resolve })
    expect(r.presentations[0]?.problems).toMatchObject([{ code: 'bad_vp_signature', details: { reason: 'wrong_purpose' } }])
  })

  it('a credential signed by a key its issuer lists only for authentication → bad_signature (wrong_purpose)', async () => {
    const k2 = Ed25519KeyPair.generate()
    const issuerDoc = split(ISSUER, keys.issuer, k2, 'authentication')
    const resolve = async (did: string): Promise<DidDocument> => did === ISSUER ? issuerDoc : await resolveDocument(did)
    const r = await verify(presentationResponse([vp11([vc11({ by: signer(k2, ISSUER, 'key-2') })])]), { resolveDocument: resolve })
    expect(r.credentials[0]?.problems).toMatchObject([{ code: 'bad_signature', details: { reason: 'wrong_purpose' } }])
  })
})

describe('verifyPresentationResponse: bad arguments throw', () => {
  it.each([
    ['holderDid', { holderDid: 'acme' }],
    ['verifierDid', { verifierDid: 42 }],
    ['nowS', { nowS: Number.NaN }],
    ['resolveDocument', { resolveDocument: 'no' }],
    ['requestedScopes', { requestedScopes: MEMBERSHIP }]
  ])('%s', async (_, bad) => {
    await expect(verifyPresentationResponse(answer([]), { ...base, ...bad } as unknown as VerifyPresentationOptions)).rejects.toBeInstanceOf(BadRequestError)
  })
})

describe('the finding codes are documented', () => {
  it('protocols/dcp.md § Verifier names every one', async () => {
    const { readFileSync } = await import('node:fs')
    const { FINDING_CODES } = await import('./verifier.js')
    const doc = readFileSync(new URL('../../../protocols/dcp.md', import.meta.url), 'utf8')
    const section = doc.slice(doc.indexOf('## Verifier'), doc.indexOf('## `POST /api/sts/token`'))
    expect(FINDING_CODES.filter(c => !section.includes(`\`${c}\``))).toEqual([])
  })
})
