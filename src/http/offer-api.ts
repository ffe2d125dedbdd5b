/**
 * Credential offers over HTTP (protocols/dcp.md §Issuance, "Offers"):
 *
 * DCP Credential Offer API, on the holder's CredentialService (Bearer: the issuer's self-issued ID token, aud = the holder):
 *   POST /api/credentials/v1/participants/{id}/offers                   CredentialOfferMessage → 200
 *
 * Issuer (x-api-key):
 *   POST /api/issuance/v1/participants/{id}/offers                      send an offer to a holder
 *
 * Holder, Identity API (x-api-key):
 *   GET  /api/identity/v1/participants/{id}/credentials/offers          offers received
 *   POST /api/identity/v1/participants/{id}/credentials/offers/{offerId}/accept
 *   GET  /api/identity/v1/participants/{id}/credentials/offer-policy
 *   PUT  /api/identity/v1/participants/{id}/credentials/offer-policy    accept known|any|none, trustedIssuers, renewalLeadS
 *
 * The offer endpoint checks, in order: participant ACTIVATED (404), Bearer
 * present (401), body a valid CredentialOfferMessage naming 1…16 distinct
 * CredentialObjects (400), the ID token with the replay cache (403 with
 * `details.reason`), the message's `issuer` is the token's `iss` (403
 * `wrong_issuer`). The body is checked before the token, so a malformed
 * offer never consumes its jti; nothing is recorded unless every check passed.
 */
import { PermissionsRequiredError } from '../errors.js'
import type { DidDocument } from '../identity/did-key.js'
import type { IssuanceService } from '../org/issuance.js'
import type { OrgStore } from '../org/org-store.js'
import { canonicalDid } from '../org/did-syntax.js'
import { checkRequestedIds } from '../org/id-checks.js'
import { validateCredentialOffer, type CredentialOfferMessage } from '../org/dcp/schemas.js'
import { verifySelfIssuedIdToken, type ReplayGuard } from '../org/dcp/tokens.js'
import { activeParticipant, bearer, DCP_BASE, dcpMessageSchema } from './dcp-api.js'
import { IDENTITY_BASE } from './identity-api.js'
import type { HttpRequest, JsonSchema, Route } from './router.js'

export interface OfferApiDeps {
  org: OrgStore
  issuance: () => Promise<IssuanceService>
  resolveDocument: (did: string) => Promise<DidDocument>
  replay: ReplayGuard
  now?: () => number
}

const offerSchema: JsonSchema = {
  type: 'object',
  properties: {
    offerId: { type: 'string' },
    issuerDid: { type: 'string' },
    credentials: { type: 'array', items: { type: 'string' }, description: 'The offered CredentialObject ids' },
    credentialTypes: { type: 'array', items: { type: 'string' } },
    offerReason: { type: 'string' },
    status: { type: 'string', enum: ['PENDING', 'ACCEPTED', 'DECLINED', 'FAILED'] },
    holderPid: { type: 'string', description: 'ACCEPTED: the credential request sent for it' },
    reason: { type: 'string' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' }
  },
  required: ['offerId', 'issuerDid', 'credentials', 'status']
}

const policySchema: JsonSchema = {
  type: 'object',
  properties: {
    accept: { type: 'string', enum: ['known', 'any', 'none'], description: 'known: issuers the participant holds a credential from, asked for one, or lists in trustedIssuers' },
    trustedIssuers: { type: 'array', items: { type: 'string' } },
    renewalLeadS: { type: ['integer', 'null'], minimum: 0, description: 'Renew this long before expiry; null: the hub\'s default' }
  }
}

const ERR = { 400: 'Malformed request', 401: 'Missing or invalid x-api-key', 403: 'The API key may not act on this participant', 404: 'No such resource' }

function pid (req: HttpRequest): string {
  return req.params.participantId as string
}

function fields (body: unknown): Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? body as Record<string, unknown> : {}
}

export function offerRoutes (deps: OfferApiDeps): Route[] {
  const { org } = deps
  const nowS = (): number => Math.floor((deps.now ?? Date.now)() / 1000)
  const P = `${IDENTITY_BASE}/participants/{participantId}`
  return [
    {
      method: 'POST', path: `${DCP_BASE}/participants/{participantId}/offers`, operationId: 'receiveCredentialOffer', tag: 'DCP', auth: 'bearer',
      summary: 'DCP Credential Offer API: an issuer offers credentials; its Bearer is its self-issued ID token (aud = the holder) and the message\'s issuer must be the caller. Recorded, then accepted (a credential request goes out), left PENDING or DECLINED by the participant\'s offer policy',
      requestBody: dcpMessageSchema('issuance/credential-offer-message-schema.json', 'CredentialOfferMessage'),
      responses: {
        200: 'Recorded: { offerId, status }',
        400: 'Not a valid CredentialOfferMessage (or more than 16 CredentialObjects, or one named twice)',
        401: 'No Bearer token',
        403: 'The ID token failed a check (details.reason), or the message names another issuer than the caller (wrong_issuer)',
        404: 'No ACTIVATED participant with this id',
        503: 'Too many offers pending for this participant (details.reason too_many)'
      },
      responseBody: { type: 'object', properties: { offerId: { type: 'string' }, status: { type: 'string' } }, required: ['offerId', 'status'] },
      handler: async (req) => {
        const p = await activeParticipant(org, pid(req))
        const token = bearer(req)
        const msg: CredentialOfferMessage = validateCredentialOffer(req.body)
        checkRequestedIds(msg.credentials.map(c => c.id))
        const id = await verifySelfIssuedIdToken(token, { audience: p.did, now: nowS(), resolveDocument: deps.resolveDocument, replay: deps.replay })
        if (canonicalDid(msg.issuer) !== canonicalDid(id.iss)) {
          throw new PermissionsRequiredError(`the offer names ${msg.issuer} as its issuer, but was sent by ${id.iss}`, { reason: 'wrong_issuer' })
        }
        const rec = await (await deps.issuance()).receiveOffer(p.participantId, id.iss, msg)
        return { status: 200, body: { offerId: rec.offerId, status: rec.status } }
      }
    },
    {
      method: 'POST', path: `/api/issuance/v1/participants/{participantId}/offers`, operationId: 'sendCredentialOffer', tag: 'Issuance', auth: 'participant',
      summary: 'Offer credentials (definition ids) to a holder: the hub finds the CredentialService in the holder\'s DID document and POSTs a CredentialOfferMessage with the issuer\'s ID token',
      requestBody: {
        type: 'object',
        properties: {
          holderDid: { type: 'string' },
          credentials: { type: 'array', items: { type: 'string' }, description: 'Credential definition ids of this issuer' },
          reason: { type: 'string', description: 'The CredentialObjects\' offerReason, e.g. reissue (default issuance)' }
        },
        required: ['holderDid', 'credentials']
      },
      responses: {
        200: 'The holder accepted the message: { holderDid, credentials, offerReason, status }',
        ...ERR,
        400: 'Malformed request, a definition not for this holder (holder_not_allowed), or a holder without a usable CredentialService (no_credential_service, insecure_endpoint, bad_endpoint)',
        404: 'No such participant or definition (unknown_definition)',
        409: 'The participant is not ACTIVATED',
        503: 'The holder could not be resolved or reached, or refused the offer (unresolvable_holder, unreachable, refused)'
      },
      responseBody: { type: 'object' },
      handler: async (req) => {
        const b = fields(req.body)
        return { status: 200, body: await (await deps.issuance()).sendOffer(pid(req), { holderDid: b.holderDid, credentials: b.credentials, ...(b.reason !== undefined ? { reason: b.reason } : {}) }) }
      }
    },
    {
      method: 'GET', path: `${P}/credentials/offers`, operationId: 'listCredentialOffers', tag: 'Issuance', auth: 'participant',
      summary: 'The credential offers this participant received, oldest first, with what became of them',
      responses: { 200: 'The offers', ...ERR },
      responseBody: { type: 'array', items: offerSchema },
      handler: async (req) => ({ status: 200, body: await org.listOffers(pid(req)) })
    },
    {
      method: 'POST', path: `${P}/credentials/offers/{offerId}/accept`, operationId: 'acceptCredentialOffer', tag: 'Issuance', auth: 'participant',
      summary: 'Accept a PENDING (or FAILED) offer: a credential request for its CredentialObjects goes to its issuer',
      responses: { 200: 'The offer, ACCEPTED, naming its request', ...ERR, 409: 'The offer is ACCEPTED, DECLINED or being accepted, or the participant is not ACTIVATED', 503: 'The issuer could not be reached (the offer is FAILED and can be accepted again)' },
      responseBody: offerSchema,
      handler: async (req) => ({ status: 200, body: await (await deps.issuance()).acceptOffer(pid(req), req.params.offerId as string) })
    },
    {
      method: 'GET', path: `${P}/credentials/offer-policy`, operationId: 'getOfferPolicy', tag: 'Issuance', auth: 'participant',
      summary: 'What the participant does with credential offers, and its renewal lead',
      responses: { 200: 'The policy (the default one if never set)', ...ERR },
      responseBody: policySchema,
      handler: async (req) => ({ status: 200, body: await org.holderPolicy(pid(req)) })
    },
    {
      method: 'PUT', path: `${P}/credentials/offer-policy`, operationId: 'setOfferPolicy', tag: 'Issuance', auth: 'participant',
      summary: 'Change the offer policy: the fields given replace the current ones',
      requestBody: policySchema,
      responses: { 200: 'The policy', ...ERR },
      responseBody: policySchema,
      handler: async (req) => {
        const b = fields(req.body)
        return { status: 200, body: await org.setHolderPolicy(pid(req), { accept: b.accept, trustedIssuers: b.trustedIssuers, ...('renewalLeadS' in b ? { renewalLeadS: b.renewalLeadS } : {}) }) }
      }
    }
  ]
}
