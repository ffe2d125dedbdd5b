/**
 * Credentials a participant holds (compact JWT VCs), stored all or none.
 * Each must be a well-formed VC about this participant (or about no
 * subject), valid now (not expired, not starting more than
 * {@link NOT_BEFORE_LEEWAY_S} ahead); with a configured verifier, its
 * issuer signature must verify before it is stored, so what the
 * Presentation API hands out was checked. Every refusal says why in
 * `details.reason` ({@link CredentialRefusal}).
 */
import { AlreadyExistsError, AuthenticationError, BadRequestError, NotFoundError } from '../errors.js'
import type { DidDocument } from '../identity/did-key.js'
import type { OrgTransactions, Tx } from './engine.js'
import { verifyDidJwt } from './jwt.js'
import { canonicalDid } from './did-syntax.js'
import { orgKeys } from './layout.js'
import { loadParticipant } from './records.js'
import type { CredentialResource, ParticipantRecord } from './types.js'
import { isValidAt, parseVcJwt, type ParsedCredential } from './vc.js'

/**
 * `details.reason` of a refused credential. `malformed` and `bad_typ` come
 * from parsing (vc.ts); `bad_credential_signature` carries the JWT
 * verifier's reason in `details.cause`.
 */
export type CredentialRefusal = 'malformed' | 'bad_typ' | 'wrong_subject' | 'expired' | 'not_yet_valid' | 'bad_credential_signature'

/**
 * How far in the future a credential's validity may start and still be
 * stored: clock skew between issuer and holder (JWT `nbf` leeway). One that
 * starts later is not a credential yet.
 */
export const NOT_BEFORE_LEEWAY_S = 60

/**
 * The issuer signature check of a credential (what `orgOf(hub)` plugs in
 * as `verifyCredential`): signed with one of its issuer's assertion keys,
 * and that issuer is the one the credential names. The second half matters
 * for VCDM 2.0 credentials, which may carry `issuer` without an `iss`
 * claim: verifyDidJwt ties the key to `iss` only.
 */
export async function verifyCredentialSignature (jwt: string, resolveDocument: (did: string) => Promise<DidDocument>): Promise<void> {
  const verified = await verifyDidJwt(jwt, resolveDocument, { purpose: 'assertionMethod' })
  const issuer = parseVcJwt(jwt).issuer
  if (verified.did !== issuer) {
    throw new AuthenticationError(`signed by a key of ${verified.did}, not of its issuer ${issuer}`, { reason: 'iss_mismatch' })
  }
}

/**
 * A credential whose issuer signature does not verify (or whose issuer
 * cannot be resolved): invalid input (`bad_request`), not a failed login —
 * the caller authenticated fine. `details.reason` is `bad_credential_signature`,
 * `details.cause` the verifier's reason (bad_signature, unknown_key, …).
 */
export class CredentialSignatureError extends BadRequestError {
  constructor (credentialId: string, cause: AuthenticationError) {
    const why = typeof cause.details?.reason === 'string' ? cause.details.reason : undefined
    super(`credential ${credentialId}: its issuer signature does not verify (${cause.message})`, { credentialId, reason: 'bad_credential_signature', ...(why !== undefined ? { cause: why } : {}) }, { cause })
  }
}

/** Refuse a credential that is of no use to hold: already expired, or not valid for a while yet. */
function checkValidity (c: ParsedCredential, nowMs: number): void {
  if (isValidAt(c, nowMs) === 'expired') {
    throw new BadRequestError(`credential ${c.id} expired at ${c.expirationDate ?? '?'}`, { credentialId: c.id, reason: 'expired', expirationDate: c.expirationDate })
  }
  if (isValidAt(c, nowMs + NOT_BEFORE_LEEWAY_S * 1000) === 'not_yet_valid') {
    throw new BadRequestError(`credential ${c.id} is not valid before ${c.issuanceDate ?? '?'}`, { credentialId: c.id, reason: 'not_yet_valid', issuanceDate: c.issuanceDate })
  }
}

export interface CredentialsComponents {
  engine: OrgTransactions
  /** Checks a credential's issuer signature; throws to refuse. Without it, credentials are stored unverified. */
  verifyCredential?: (jwt: string) => Promise<void>
}

export class Credentials {
  readonly #engine: OrgTransactions
  readonly #verify: ((jwt: string) => Promise<void>) | undefined

  constructor (components: CredentialsComponents) {
    this.#engine = components.engine
    this.#verify = components.verifyCredential
  }

  async store (pid: string, jwts: string[]): Promise<CredentialResource[]> {
    const op = 'credential.store'
    const e = this.#engine
    if (!Array.isArray(jwts) || jwts.length === 0) throw new BadRequestError('expected at least one credential')
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      e.step(op, 'validate')
      return await this.stage(tx, p, jwts)
    })
  }

  /**
   * Check credentials for `p` and stage their records and events in `tx`:
   * a holder request's completion stores them in its own batch, with the
   * request's new status.
   */
  async stage (tx: Tx, p: ParticipantRecord, jwts: string[]): Promise<CredentialResource[]> {
    const out: CredentialResource[] = []
    const nowMs = Date.parse(this.#engine.iso())
    for (const jwt of jwts) {
      if (typeof jwt !== 'string') throw new BadRequestError('a credential must be a compact JWT string', { reason: 'malformed' })
      const c = parseVcJwt(jwt)
      // Compared canonically (did:web escapes are case-insensitive): %3a and %3A name the same host:port.
      if (c.subjectId !== undefined && canonicalDid(c.subjectId) !== canonicalDid(p.did)) {
        throw new BadRequestError(`credential ${c.id} is about ${c.subjectId}, not about this participant (${p.did})`, { credentialId: c.id, reason: 'wrong_subject' })
      }
      checkValidity(c, nowMs)
      if (out.some(x => x.credentialId === c.id) || await this.#engine.get(orgKeys.credential(p.participantId, c.id)) !== undefined) {
        throw new AlreadyExistsError(`credential ${c.id} is already stored`, { credentialId: c.id })
      }
      if (this.#verify !== undefined) {
        try {
          await this.#verify(jwt)
        } catch (err) {
          if (err instanceof AuthenticationError) throw new CredentialSignatureError(c.id, err)
          throw err
        }
      }
      const record: CredentialResource = {
        credentialId: c.id,
        participantId: p.participantId,
        format: 'jwt',
        types: c.types,
        issuer: c.issuer,
        ...(c.subjectId !== undefined ? { subjectId: c.subjectId } : {}),
        ...(c.issuanceDate !== undefined ? { issuanceDate: c.issuanceDate } : {}),
        ...(c.expirationDate !== undefined ? { expirationDate: c.expirationDate } : {}),
        state: 'ISSUED',
        createdAt: this.#engine.iso(),
        raw: jwt
      }
      tx.put(orgKeys.credential(p.participantId, c.id), record)
      tx.events.push({ type: 'credential.stored', participantId: p.participantId, credentialId: c.id })
      out.push(record)
    }
    return out
  }

  async get (pid: string, credentialId: string): Promise<CredentialResource> {
    const p = await loadParticipant(this.#engine, pid)
    const c = await this.#engine.json<CredentialResource>(orgKeys.credential(p.participantId, credentialId))
    if (c === undefined) throw new NotFoundError(`participant "${pid}" has no credential ${credentialId}`, { credentialId })
    return c
  }

  /** All credentials of a participant, or those having `type`. */
  async list (pid: string, type?: string): Promise<CredentialResource[]> {
    const p = await loadParticipant(this.#engine, pid)
    const all = await this.#engine.list<CredentialResource>(orgKeys.credentialsPrefix(p.participantId))
    return type === undefined ? all : all.filter(c => c.types.includes(type))
  }

  /** Mark a credential revoked: it is never presented again. Idempotent. */
  async revoke (pid: string, credentialId: string): Promise<CredentialResource> {
    const op = 'credential.revoke'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const c = await this.get(pid, credentialId)
      e.step(op, 'transition')
      if (c.state === 'REVOKED') return c
      const next: CredentialResource = { ...c, state: 'REVOKED' }
      tx.put(orgKeys.credential(c.participantId, c.credentialId), next)
      tx.events.push({ type: 'credential.revoked', participantId: c.participantId, credentialId: c.credentialId })
      return next
    })
  }

  async delete (pid: string, credentialId: string): Promise<void> {
    const op = 'credential.delete'
    const e = this.#engine
    await e.mutate(op, async tx => {
      e.step(op, 'load')
      const c = await this.get(pid, credentialId)
      tx.del(orgKeys.credential(c.participantId, c.credentialId))
      tx.events.push({ type: 'credential.deleted', participantId: c.participantId, credentialId: c.credentialId })
    })
  }
}
