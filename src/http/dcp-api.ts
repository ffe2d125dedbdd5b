/**
 * Decentralized Claims Protocol endpoints (protocols/dcp.md):
 *
 *   POST /api/credentials/v1/participants/{id}/presentations/query   (Resolution API)
 *   POST /api/credentials/v1/participants/{id}/credentials           (Storage API)
 *   POST /api/sts/token                                               (token service)
 *
 * The presentation query checks, in order: the participant exists and is
 * ACTIVATED (404); a Bearer token is present (401); the body is a valid
 * PresentationQueryMessage, and its scopes or its presentation definition
 * (org/dcp/presentation-exchange.ts) well-formed (400); the self-issued ID
 * token and the access token in its `token` claim (403 with a
 * `details.reason`); every requested scope is granted (403
 * `scope_escalation`). The body is checked before the token so that a
 * malformed request never consumes the token's `jti`. The selected
 * credentials then go through the issuers' status lists (`statusChecker`),
 * which only ever shrinks the VP, never fails a scope query. A definition
 * is evaluated over the granted credentials that pass those checks; when it
 * cannot be satisfied from them the answer is 403
 * `definition_not_satisfiable`, whether or not the holder has more.
 */
import { AuthenticationError, BadRequestError, NotFoundError, PermissionsRequiredError, toHubError } from '../errors.js'
import type { DidDocument } from '../identity/did-key.js'
import { CredentialSignatureError, MAX_REQUESTED_CREDENTIALS, type OrgStore } from '../org/org-store.js'
import type { CredentialStatusFilter } from '../org/status-checker.js'
import type { CredentialResource, ParticipantContext } from '../org/types.js'
import type { Logger } from '../log.js'
import { parseVcJwt } from '../org/vc.js'
import { DCP_SCHEMA_FILES, validateCredentialMessage, validatePresentationQuery, type DcpSchemaFile } from '../org/dcp/schemas.js'
import { parseScopes, scopeCovers, type Scope } from '../org/dcp/scopes.js'
import { compileDefinition, evaluateDefinition, presentationResponseWithSubmission, presentationSubmission, type CompiledDefinition } from '../org/dcp/presentation-exchange.js'
import { DcpTokenError, verifyAccessToken, verifySelfIssuedIdToken } from '../org/dcp/tokens.js'
import { buildPresentations, presentationResponse, selectCredentials, type HeldCredential } from '../org/dcp/presentation.js'
import { issueTokens, type TokenRequest } from '../org/sts.js'
import type { HttpRequest, JsonSchema, Route } from './router.js'

export const DCP_BASE = '/api/credentials/v1'

/** Credential formats we store from a CredentialMessage: JWT VCs under the names DCP deployments use. */
const JWT_FORMATS = new Set(['jwt', 'vcdm11_jwt', 'vcdm20_jwt', 'jwt_vc', 'jwt_vc_json'])

export interface DcpDeps {
  org: OrgStore
  resolveDocument: (did: string) => Promise<DidDocument>
  replay: { accept: (iss: string, jti: string, exp: number) => Promise<boolean> }
  /** Issuer status lists (revocation, suspension); without one, only local revocation counts. */
  statusChecker?: CredentialStatusFilter
  now?: () => number
  log?: Logger
}

/**
 * The stored credentials as the selection reads them. One that today's
 * parser refuses (stored by an older, more lenient version) is left out and
 * logged: it could never be presented anyway, and it must not make every
 * query of its holder fail.
 */
function heldCredentials (stored: CredentialResource[], log: Logger | undefined): HeldCredential[] {
  const out: HeldCredential[] = []
  for (const c of stored) {
    try {
      out.push({ ...parseVcJwt(c.raw), revoked: c.state === 'REVOKED' })
    } catch (err) {
      log?.warn('stored credential no longer parses; not presented', { participantId: c.participantId, credentialId: c.credentialId, reason: toHubError(err).message })
    }
  }
  return out
}

export function bearer (req: HttpRequest): string {
  const h = req.headers.authorization
  // The scheme name is case-insensitive (RFC 7235 §2.1): "bearer …" is the same thing.
  const m = typeof h === 'string' ? /^Bearer ([^\s]+)$/i.exec(h) : null
  if (m === null) throw new AuthenticationError('this endpoint needs "Authorization: Bearer <self-issued ID token>"')
  return m[1] as string
}

/** Public DCP endpoints answer only for ACTIVATED participants; anything else looks absent. */
export async function activeParticipant (org: OrgStore, id: string): Promise<ParticipantContext> {
  let p: ParticipantContext
  try {
    p = await org.getParticipant(id)
  } catch (err) {
    if (err instanceof BadRequestError) throw new NotFoundError(`no participant "${id}"`)
    throw err
  }
  if (p.state !== 'ACTIVATED') throw new NotFoundError(`no participant "${id}"`)
  return p
}

const DCP_MESSAGE: JsonSchema = { type: 'object', description: 'Validated against the official DCP JSON schemas in protocols/dcp/' }

/**
 * A DCP message body as the OpenAPI document publishes it: a reference to
 * the official schema (vendored in protocols/dcp/, resolved by the DCP Ajv
 * setup that checks request bodies), titled with the message type, which
 * names the schema in a 400's details.
 */
export function dcpMessageSchema (file: DcpSchemaFile, title: string): JsonSchema {
  return { $ref: DCP_SCHEMA_FILES[file], title, description: `A ${title}: the official DCP schema (protocols/dcp/${file})` }
}

export function dcpRoutes (deps: DcpDeps): Route[] {
  const { org } = deps
  const nowMs = deps.now ?? Date.now
  return [
    {
      method: 'POST', path: `${DCP_BASE}/participants/{participantId}/presentations/query`, operationId: 'queryPresentation', tag: 'DCP', auth: 'bearer',
      summary: 'DCP Resolution API: answer a PresentationQueryMessage (scopes, or a DIF Presentation Exchange v2 presentationDefinition evaluated over what the access token grants) with a PresentationResponseMessage holding JWT VPs (and a presentationSubmission for a definition)',
      requestBody: dcpMessageSchema('presentation/presentation-query-message-schema.json', 'PresentationQueryMessage'),
      responses: {
        200: 'A PresentationResponseMessage',
        400: 'Not a valid PresentationQueryMessage, or scope and presentationDefinition together, or a malformed scope, or a presentation definition outside the supported subset or its limits (details.reason: invalid_definition, unsupported_feature, limit_exceeded)',
        401: 'No Bearer token',
        403: 'The ID token or access token failed a check (details.reason), or the query asks for more than the access token grants (scope_escalation), or the definition cannot be satisfied from what it grants (definition_not_satisfiable)',
        404: 'No ACTIVATED participant with this id'
      },
      responseBody: DCP_MESSAGE,
      handler: async (req) => {
        const p = await activeParticipant(org, req.params.participantId as string)
        const idToken = bearer(req)
        const query = validatePresentationQuery(req.body)
        // Everything about the body is checked (and a definition compiled) before the token, so a bad body never consumes its jti.
        let definition: CompiledDefinition | undefined
        let requested: Scope[] = []
        if (query.presentationDefinition !== undefined) {
          if (query.scope !== undefined) throw new BadRequestError('a PresentationQueryMessage carries scope or presentationDefinition, not both')
          definition = compileDefinition(query.presentationDefinition)
        } else {
          requested = parseScopes(query.scope ?? [])
          if (requested.length === 0) throw new BadRequestError('scope must not be empty')
        }
        const now = Math.floor(nowMs() / 1000)
        const id = await verifySelfIssuedIdToken(idToken, { audience: p.did, now, resolveDocument: deps.resolveDocument, replay: deps.replay })
        if (id.token === undefined) throw new DcpTokenError('missing_token', 'the ID token has no "token" claim (an access token issued by this participant)')
        const access = await verifyAccessToken(id.token, {
          participantDid: p.did,
          caller: id.iss,
          now,
          lookupKey: async kid => await org.verificationKey(p.participantId, kid)
        })
        const granted = parseScopes(access.scopes)
        for (const r of requested) {
          if (!scopeCovers(granted, r)) throw new DcpTokenError('scope_escalation', `the access token does not grant ${r.scope}`)
        }
        const candidates = heldCredentials(await org.listCredentials(p.participantId), deps.log)
        const signer = await org.signingKey(p.participantId)
        if (definition === undefined) {
          const selected = selectCredentials(candidates, requested, granted, nowMs())
          // Status lists are checked after selection so that only what would be presented costs a fetch.
          const chosen = deps.statusChecker === undefined ? selected : await deps.statusChecker.presentable(selected)
          const { presentations } = buildPresentations(signer, { holderDid: p.did, audience: id.iss, credentials: chosen, now })
          return { status: 200, body: presentationResponse(presentations) }
        }
        // A definition has no scope of its own: the grant bounds it. Only what the token grants (valid, not revoked,
        // passing the status lists) is looked at, so "not held" and "held but not granted" give the same 403.
        const grantedOnly = selectCredentials(candidates, granted, granted, nowMs())
        const presentable = deps.statusChecker === undefined ? grantedOnly : await deps.statusChecker.presentable(grantedOnly)
        const match = evaluateDefinition(definition, presentable)
        if (match === undefined) {
          throw new PermissionsRequiredError('the presentation definition cannot be satisfied with the credentials the access token grants', { reason: 'definition_not_satisfiable' })
        }
        const built = buildPresentations(signer, { holderDid: p.did, audience: id.iss, credentials: match.credentials, now })
        return { status: 200, body: presentationResponseWithSubmission(built.presentations, presentationSubmission(definition, match, built.placements)) }
      }
    },
    {
      method: 'POST', path: `${DCP_BASE}/participants/{participantId}/credentials`, operationId: 'storeCredentials', tag: 'DCP', auth: 'bearer',
      summary: 'DCP Storage API: an issuer delivers a CredentialMessage; its Bearer is the issuer\'s self-issued ID token (aud = the holder), and every credential must be issued by that issuer; a holderPid naming one of this participant\'s pending credential requests to that issuer settles it (ISSUED/REJECTED)',
      requestBody: dcpMessageSchema('issuance/credential-message-schema.json', 'CredentialMessage'),
      responses: {
        200: 'Stored (or, for status REJECTED, acknowledged)',
        400: 'Not a valid CredentialMessage, or a credential that is not a JWT VC about this participant',
        401: 'No Bearer token',
        403: 'The ID token failed a check, or the message answers no pending request of this participant and its sender is not a trusted issuer (unsolicited), or a credential was issued by someone else (wrong_issuer) or its issuer signature does not verify (bad_credential_signature)',
        404: 'No ACTIVATED participant with this id',
        409: 'A credential with the same id is already stored'
      },
      responseBody: { type: 'object', properties: { stored: { type: 'array', items: { type: 'string' } } }, required: ['stored'] },
      handler: async (req) => {
        const p = await activeParticipant(org, req.params.participantId as string)
        const idToken = bearer(req)
        const msg = validateCredentialMessage(req.body)
        // Before the token, like every check of the body: a refused body never consumes the jti.
        if ((msg.credentials ?? []).length > MAX_REQUESTED_CREDENTIALS) {
          throw new BadRequestError(`a CredentialMessage carries at most ${MAX_REQUESTED_CREDENTIALS} credentials`, { reason: 'too_many_credentials', max: MAX_REQUESTED_CREDENTIALS })
        }
        const id = await verifySelfIssuedIdToken(idToken, { audience: p.did, now: Math.floor(nowMs() / 1000), resolveDocument: deps.resolveDocument, replay: deps.replay })
        // A message answering one of this participant's own credential requests also settles that request (org-store acceptCredentialMessage).
        const message = { issuerDid: id.iss, issuerPid: msg.issuerPid, ...(msg.holderPid !== undefined ? { holderPid: msg.holderPid } : {}), ...(msg.rejectionReason !== undefined ? { rejectionReason: msg.rejectionReason } : {}) }
        if (msg.status === 'REJECTED') {
          await org.acceptCredentialMessage(p.participantId, { ...message, status: 'REJECTED', jwts: [] })
          return { status: 200, body: { stored: [] } }
        }
        const jwts: string[] = []
        for (const c of msg.credentials ?? []) {
          if (!JWT_FORMATS.has(c.format)) throw new BadRequestError(`credential format "${c.format}" is not supported (JWT VCs only)`)
          const vc = parseVcJwt(c.payload)
          if (vc.issuer !== id.iss) throw new PermissionsRequiredError(`credential ${vc.id} was issued by ${vc.issuer}, not by the caller ${id.iss}`, { reason: 'wrong_issuer' })
          jwts.push(c.payload)
        }
        if (jwts.length === 0) throw new BadRequestError('the CredentialMessage holds no credentials')
        const stored = await org.acceptCredentialMessage(p.participantId, { ...message, status: 'ISSUED', jwts }).catch((err: unknown) => {
          // The caller proved it is the issuer, yet a credential naming it is not signed by it:
          // 403 here, like wrong_issuer (on the Identity API the same failure is a 400).
          if (!(err instanceof CredentialSignatureError)) throw err
          throw new PermissionsRequiredError(err.message, err.details)
        })
        return { status: 200, body: { stored: stored.map(c => c.credentialId) } }
      }
    },
    {
      method: 'POST', path: '/api/sts/token', operationId: 'issueToken', tag: 'DCP', auth: 'participant',
      summary: 'Token service: with scope, an access token for the audience (verifier) inside this participant\'s self-issued ID token; with token, an ID token presenting that access token to the audience (holder)',
      requestBody: {
        type: 'object',
        properties: {
          participantId: { type: 'string', description: 'Needed with the admin key; with a participant key it defaults to (and must be) that participant' },
          audience: { type: 'string' },
          scope: { oneOf: [{ type: 'array', items: { type: 'string' } }, { type: 'string', description: 'space-separated' }] },
          token: { type: 'string' },
          ttl: { type: 'integer', minimum: 1, maximum: 3600 }
        },
        required: ['audience']
      },
      responses: { 200: 'The tokens', 400: 'Malformed request', 401: 'Missing or invalid x-api-key', 403: 'The API key belongs to another participant', 404: 'No such participant', 409: 'The participant is not ACTIVATED or has no signing key' },
      responseBody: { type: 'object', properties: { idToken: { type: 'string' }, accessToken: { type: 'string' }, expiresIn: { type: 'integer' } }, required: ['idToken', 'expiresIn'] },
      handler: async (req) => {
        const b = req.body
        if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new BadRequestError('the token request body must be a JSON object')
        const o = b as Record<string, unknown>
        const caller = req.caller
        let participantId = typeof o.participantId === 'string' ? o.participantId : undefined
        if (caller !== undefined && !caller.admin) {
          if (participantId !== undefined && participantId !== caller.participantId) throw new PermissionsRequiredError(`this API key belongs to participant "${caller.participantId}"`)
          participantId = caller.participantId
        }
        if (participantId === undefined) throw new BadRequestError('participantId is required with the admin key')
        const input: TokenRequest = { participantId, audience: o.audience as string }
        if (o.scope !== undefined) input.scope = typeof o.scope === 'string' ? o.scope.split(/\s+/).filter(s => s !== '') : o.scope as string[]
        if (o.token !== undefined) input.token = o.token as string
        if (o.ttl !== undefined) input.ttlS = o.ttl as number
        return { status: 200, body: await issueTokens(org, input, nowMs()) }
      }
    }
  ]
}
