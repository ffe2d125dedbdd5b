/**
 * DCP credential issuance over HTTP (protocols/dcp.md §Issuance):
 *
 * DCP Issuer Service (Bearer: the holder's self-issued ID token, aud = the issuer):
 *   GET  /api/issuance/v1/participants/{id}/metadata              IssuerMetadata
 *   POST /api/issuance/v1/participants/{id}/credentials           CredentialRequestMessage → 201 + Location
 *   GET  /api/issuance/v1/participants/{id}/requests/{issuerPid}  CredentialStatus (the requesting holder only)
 *
 * Status lists (public, no auth: verifiers and holders fetch them):
 *   GET  /api/issuance/v1/participants/{id}/status/{listId}        BitstringStatusListCredential (application/vc+jwt)
 *
 * Identity API (x-api-key), issuer side: credential definitions, the
 * requests received, the credentials issued into status lists and their
 * revocation; holder side: asking an issuer for credentials and the
 * requests sent.
 *
 * The Issuer Service checks, in order: participant ACTIVATED (404), Bearer
 * present (401), body a valid message (400), ID token (403 with
 * `details.reason`) — the same order, codes and token rules as the
 * presentation API, so a malformed request never consumes the token's jti.
 * What happens to a request after its 201 is src/org/issuance.ts.
 */
import { ConflictError, HubError, NotFoundError } from '../errors.js'
import type { DidDocument } from '../identity/did-key.js'
import { createStatusListJwt, credentialStatus, parseCredentialRequest, type IssuanceService } from '../org/issuance.js'
import type { CredentialDefinitionInput, OrgStore, SigningKey } from '../org/org-store.js'
import type { ParticipantContext } from '../org/types.js'
import type { CredentialRequestMessage } from '../org/dcp/schemas.js'
import { verifySelfIssuedIdToken, type ReplayGuard } from '../org/dcp/tokens.js'
import { activeParticipant, bearer, dcpMessageSchema } from './dcp-api.js'
import { IDENTITY_BASE } from './identity-api.js'
import type { HttpRequest, JsonSchema, Route } from './router.js'

export const ISSUANCE_BASE = '/api/issuance/v1'

export interface IssuanceApiDeps {
  org: OrgStore
  /** The hub's issuance service (created on first use). */
  issuance: () => Promise<IssuanceService>
  resolveDocument: (did: string) => Promise<DidDocument>
  replay: ReplayGuard
  now?: () => number
}

const DCP_MESSAGE: JsonSchema = { type: 'object', description: 'Validated against the official DCP JSON schemas in protocols/dcp/' }

const definitionSchema: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._~:-]{0,127}$', description: 'The CredentialObject id in the metadata; what a CredentialRequestMessage names' },
    credentialType: { type: 'string', description: 'e.g. MembershipCredential' },
    validitySeconds: { type: 'integer', minimum: 1, default: 2_592_000 },
    claims: { type: 'object', description: 'Extra credentialSubject claims (not "id")' },
    holders: { type: 'array', items: { type: 'string' }, description: 'Holder DIDs allowed to receive it; when absent, every holder that authenticates' },
    credentialSchema: { type: 'string', format: 'uri', description: 'Advertised in the metadata' },
    statusList: { type: 'boolean', default: false, description: 'Give each credential a BitstringStatusListEntry (revocation) in the issuer\'s own status list, so it can be revoked; needs an IssuerService endpoint in the issuer\'s DID document' },
    dataModel: { type: 'string', enum: ['1.1', '2.0'], default: '1.1', description: 'The W3C VC Data Model of its credentials: 1.1 (a JWT with a vc claim, typ JWT) or 2.0 (a vc+jwt whose claims are the credential, presented enveloped in a vp+jwt)' }
  },
  required: ['id', 'credentialType']
}

const issuedCredentialSchema: JsonSchema = {
  type: 'object',
  properties: {
    credentialId: { type: 'string' },
    issuerPid: { type: 'string', description: 'The issuance request it was issued for' },
    holderDid: { type: 'string' },
    definitionId: { type: 'string' },
    credentialType: { type: 'string' },
    listId: { type: 'string' },
    index: { type: 'integer', description: 'Its statusListIndex' },
    statusListCredential: { type: 'string', description: 'The status list\'s URL' },
    revoked: { type: 'boolean' },
    issuedAt: { type: 'string' },
    revokedAt: { type: 'string' }
  },
  required: ['credentialId', 'issuerPid', 'holderDid', 'definitionId', 'credentialType', 'listId', 'index', 'statusListCredential', 'revoked', 'issuedAt']
}

const STATUS_ENUM = ['RECEIVED', 'ISSUED', 'REJECTED']

const issuanceRequestSchema: JsonSchema = {
  type: 'object',
  properties: {
    issuerPid: { type: 'string' },
    holderPid: { type: 'string' },
    holderDid: { type: 'string' },
    credentials: { type: 'array', items: { type: 'string' } },
    status: { type: 'string', enum: STATUS_ENUM },
    rejectionReason: { type: 'string' },
    credentialIds: { type: 'array', items: { type: 'string' } },
    delivered: { type: 'boolean' },
    deliveryError: { type: 'string' }
  },
  required: ['issuerPid', 'holderPid', 'holderDid', 'credentials', 'status']
}

const holderRequestSchema: JsonSchema = {
  type: 'object',
  properties: {
    holderPid: { type: 'string' },
    issuerDid: { type: 'string' },
    issuerPid: { type: 'string' },
    credentials: { type: 'array', items: { type: 'string' } },
    status: { type: 'string', enum: ['REQUESTED', 'FAILED', ...STATUS_ENUM] },
    reason: { type: 'string' },
    credentialIds: { type: 'array', items: { type: 'string' } }
  },
  required: ['holderPid', 'issuerDid', 'credentials', 'status']
}

const ERR = { 400: 'Malformed request', 401: 'Missing or invalid x-api-key', 403: 'The API key may not act on this participant', 404: 'No such resource' }

function pid (req: HttpRequest): string {
  return req.params.participantId as string
}

export function issuanceRoutes (deps: IssuanceApiDeps): Route[] {
  const { org } = deps
  const nowS = (): number => Math.floor((deps.now ?? Date.now)() / 1000)
  const P = `${IDENTITY_BASE}/participants/{participantId}`
  const D = `${ISSUANCE_BASE}/participants/{participantId}`

  /** The issuer (ACTIVATED, else 404) and the authenticated caller, checked in the documented order. */
  async function caller (req: HttpRequest, checkBody?: () => void): Promise<{ p: ParticipantContext, holderDid: string }> {
    const p = await activeParticipant(org, pid(req))
    const token = bearer(req)
    checkBody?.()
    const id = await verifySelfIssuedIdToken(token, { audience: p.did, now: nowS(), resolveDocument: deps.resolveDocument, replay: deps.replay })
    return { p, holderDid: id.iss }
  }

  return [
    // ── DCP Issuer Service
    {
      method: 'GET', path: `${D}/metadata`, operationId: 'getIssuerMetadata', tag: 'DCP issuance', auth: 'bearer',
      summary: 'DCP Issuer Service: IssuerMetadata listing the credentials this participant issues (from its credential definitions)',
      responses: { 200: 'IssuerMetadata', 401: 'No Bearer token', 403: 'The ID token failed a check (details.reason)', 404: 'No ACTIVATED participant with this id' },
      responseBody: DCP_MESSAGE,
      handler: async (req) => {
        const { p } = await caller(req)
        return { status: 200, body: await (await deps.issuance()).metadata(p.participantId) }
      }
    },
    {
      method: 'POST', path: `${D}/credentials`, operationId: 'requestCredentialIssuance', tag: 'DCP issuance', auth: 'bearer',
      summary: 'DCP Issuer Service: accept a CredentialRequestMessage from the holder that signed the ID token; 201 with Location …/requests/{issuerPid}. The request is processed afterwards and its credentials (or rejection) delivered to the holder\'s Storage API',
      requestBody: dcpMessageSchema('issuance/credential-request-message-schema.json', 'CredentialRequestMessage'),
      responses: {
        201: 'Received: a CredentialStatus (RECEIVED); Location names the status resource',
        400: 'Not a valid CredentialRequestMessage (or more than 16 credentials, or one named twice)',
        401: 'No Bearer token',
        403: 'The ID token failed a check (details.reason)',
        404: 'No ACTIVATED participant with this id'
      },
      responseBody: DCP_MESSAGE,
      handler: async (req) => {
        let msg: CredentialRequestMessage | undefined
        const { p, holderDid } = await caller(req, () => { msg = parseCredentialRequest(req.body) })
        const issuance = await deps.issuance()
        const r = await issuance.receive(p.participantId, holderDid, msg as CredentialRequestMessage)
        const location = `${ISSUANCE_BASE}/participants/${encodeURIComponent(p.participantId)}/requests/${encodeURIComponent(r.issuerPid)}`
        return { status: 201, headers: { location }, body: credentialStatus(r) }
      }
    },
    {
      method: 'GET', path: `${D}/requests/{issuerPid}`, operationId: 'getCredentialStatus', tag: 'DCP issuance', auth: 'bearer',
      summary: 'DCP Issuer Service: the CredentialStatus (RECEIVED, ISSUED, REJECTED) of a request, for the holder that made it',
      responses: { 200: 'CredentialStatus', 401: 'No Bearer token', 403: 'The ID token failed a check (details.reason)', 404: 'No such request of this caller (a request of another holder is just as absent), or no ACTIVATED participant' },
      responseBody: DCP_MESSAGE,
      handler: async (req) => {
        const { p, holderDid } = await caller(req)
        const issuerPid = req.params.issuerPid as string
        const status = await (await deps.issuance()).status(p.participantId, issuerPid, holderDid)
        if (status === undefined) throw new NotFoundError(`no credential request ${issuerPid}`)
        return { status: 200, body: status }
      }
    },

    // ── Status lists (public)
    {
      method: 'GET', path: `${D}/status/{listId}`, operationId: 'getStatusListCredential', tag: 'DCP issuance', auth: 'none',
      summary: 'The issuer\'s revocation list named in its credentials\' statusListCredential: a BitstringStatusListCredential as a JWT VC (VCDM 1.1), signed on each request with the issuer\'s current key, valid for an hour',
      responses: { 200: 'The status list credential (application/vc+jwt, a compact JWS)', 404: 'No such list, or no ACTIVATED participant with this id', 503: 'The issuer has no key to sign with' },
      responseType: 'application/vc+jwt',
      responseBody: { type: 'string', description: 'A compact JWS' },
      handler: async (req) => {
        const p = await activeParticipant(org, pid(req))
        const listId = req.params.listId as string
        const list = await org.findStatusList(p.participantId, listId)
        if (list === undefined) throw new NotFoundError(`no status list ${listId}`)
        let signer: SigningKey
        try {
          signer = await org.signingKey(p.participantId)
        } catch (err) {
          // A verifier cannot do anything about the issuer's keys: "try later", not "you asked wrong".
          if (err instanceof ConflictError) throw new HubError('unavailable', 'the issuer has no key to sign its status list with')
          throw err
        }
        return { status: 200, text: createStatusListJwt(signer, { issuerDid: p.did, list, now: nowS() }), headers: { 'content-type': 'application/vc+jwt' } }
      }
    },

    // ── Identity API: issuer side
    {
      method: 'POST', path: `${P}/issuance/definitions`, operationId: 'createCredentialDefinition', tag: 'Issuance', auth: 'participant',
      summary: 'Add a credential definition: a credential type this participant issues, its validity, extra claims and (optionally) the holders allowed to get it',
      requestBody: definitionSchema,
      responses: { 201: 'The definition', ...ERR, 409: 'A definition with this id exists' },
      responseBody: definitionSchema,
      // The store checks the body (after the participant, so an unknown one is a 404 whatever the body).
      handler: async (req) => ({ status: 201, body: await org.createDefinition(pid(req), req.body as CredentialDefinitionInput) })
    },
    {
      method: 'GET', path: `${P}/issuance/definitions`, operationId: 'listCredentialDefinitions', tag: 'Issuance', auth: 'participant',
      summary: 'List the participant\'s credential definitions',
      responses: { 200: 'The definitions', ...ERR },
      responseBody: { type: 'array', items: definitionSchema },
      handler: async (req) => ({ status: 200, body: await org.listDefinitions(pid(req)) })
    },
    {
      method: 'DELETE', path: `${P}/issuance/definitions/{definitionId}`, operationId: 'deleteCredentialDefinition', tag: 'Issuance', auth: 'participant',
      summary: 'Delete a credential definition (requests naming it are rejected from then on)',
      responses: { 204: 'Deleted', ...ERR },
      handler: async (req) => {
        await org.deleteDefinition(pid(req), req.params.definitionId as string)
        return { status: 204 }
      }
    },
    {
      method: 'GET', path: `${P}/issuance/requests`, operationId: 'listIssuanceRequests', tag: 'Issuance', auth: 'participant',
      summary: 'The credential requests this participant received as an issuer, with their status and delivery outcome',
      responses: { 200: 'The requests', ...ERR },
      responseBody: { type: 'array', items: issuanceRequestSchema },
      handler: async (req) => ({ status: 200, body: await org.listIssuanceRequests(pid(req)) })
    },
    {
      method: 'GET', path: `${P}/issuance/credentials`, operationId: 'listIssuedCredentials', tag: 'Issuance', auth: 'participant',
      summary: 'The credentials this participant issued with a status list entry (definitions with statusList): holder, type, list, index and whether revoked',
      responses: { 200: 'The issued credentials', ...ERR },
      responseBody: { type: 'array', items: issuedCredentialSchema },
      handler: async (req) => ({ status: 200, body: await org.listIssuedCredentials(pid(req)) })
    },
    {
      method: 'POST', path: `${P}/issuance/credentials/{credentialId}/revoke`, operationId: 'revokeIssuedCredential', tag: 'Issuance', auth: 'participant',
      summary: 'Revoke a credential this participant issued: its bit is set in the served status list (idempotent). Holders and verifiers see it when their cached copy of the list expires (this hub\'s checker: within 5 minutes)',
      responses: { 200: 'The issued credential, revoked', ...ERR, 404: 'No such participant, or it issued no credential with this id and a status list entry' },
      responseBody: issuedCredentialSchema,
      handler: async (req) => ({ status: 200, body: await org.revokeIssuedCredential(pid(req), req.params.credentialId as string) })
    },

    // ── Identity API: holder side
    {
      method: 'POST', path: `${P}/credentials/request`, operationId: 'requestCredentials', tag: 'Issuance', auth: 'participant',
      summary: 'Ask an issuer for credentials: the hub finds the IssuerService in the issuer\'s DID document and sends a CredentialRequestMessage; the credentials arrive later through the Storage API',
      requestBody: { type: 'object', properties: { issuerDid: { type: 'string' }, credentials: { type: 'array', items: { type: 'string' }, description: 'Credential definition ids (CredentialObject ids of the issuer\'s metadata)' } }, required: ['issuerDid', 'credentials'] },
      responses: {
        201: 'Sent and acknowledged by the issuer: the request record (RECEIVED, or already ISSUED/REJECTED)',
        ...ERR,
        400: 'Malformed request, or the issuer has no usable IssuerService (details.reason no_issuer_service, insecure_endpoint, bad_endpoint)',
        409: 'The participant is not ACTIVATED',
        503: 'The issuer could not be resolved or reached, or refused the request (details.reason unresolvable_issuer, unreachable, refused; the record is kept as FAILED once it was sent)'
      },
      responseBody: holderRequestSchema,
      handler: async (req) => {
        // Fields are checked by requestCredentials after the participant, so an unknown one is a 404 whatever the body.
        const b = typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? req.body as Record<string, unknown> : {}
        return { status: 201, body: await (await deps.issuance()).requestCredentials(pid(req), { issuerDid: b.issuerDid, credentials: b.credentials }) }
      }
    },
    {
      method: 'GET', path: `${P}/credentials/requests`, operationId: 'listCredentialRequests', tag: 'Issuance', auth: 'participant',
      summary: 'The credential requests this participant sent to issuers, with their status',
      responses: { 200: 'The requests', ...ERR },
      responseBody: { type: 'array', items: holderRequestSchema },
      handler: async (req) => ({ status: 200, body: await org.listHolderRequests(pid(req)) })
    },
    {
      method: 'GET', path: `${P}/credentials/requests/{holderPid}`, operationId: 'getCredentialRequest', tag: 'Issuance', auth: 'participant',
      summary: 'One credential request this participant sent',
      responses: { 200: 'The request', ...ERR },
      responseBody: holderRequestSchema,
      handler: async (req) => {
        const holderPid = req.params.holderPid as string
        const r = await org.findHolderRequest(pid(req), holderPid)
        if (r === undefined) throw new NotFoundError(`no credential request ${holderPid}`, { holderPid })
        return { status: 200, body: r }
      }
    }
  ]
}
