/**
 * The Identity API (`/api/identity/v1/`): the operator's interface to
 * participant contexts, key pairs, DID documents and credentials. Each
 * handler is parse → call the OrgStore → reply; the store does validation,
 * state rules and atomicity, so the HTTP layer, the CLI and in-process
 * callers behave the same.
 */
import { BadRequestError } from '../errors.js'
import type { CreateParticipantInput, KeySpec, OrgStore } from '../org/org-store.js'
import type { ParticipantContext } from '../org/types.js'
import type { HttpRequest, JsonSchema, Route } from './router.js'

export const IDENTITY_BASE = '/api/identity/v1'

function obj (body: unknown, what: string): Record<string, unknown> {
  if (body === undefined) return {}
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequestError(`the ${what} body must be a JSON object`)
  return body as Record<string, unknown>
}

function pid (req: HttpRequest): string {
  return req.params.participantId as string
}

/** Parse a key spec from JSON: `{keyId?, publicKeyJwk?, activate?, isDefault?}`. */
export function keySpec (v: unknown, what = 'key'): KeySpec {
  const o = obj(v, what)
  const spec: KeySpec = {}
  if (o.keyId !== undefined) {
    if (typeof o.keyId !== 'string') throw new BadRequestError(`${what}.keyId must be a string`)
    spec.keyId = o.keyId
  }
  if (o.publicKeyJwk !== undefined) spec.publicKeyJwk = o.publicKeyJwk as KeySpec['publicKeyJwk']
  for (const flag of ['activate', 'isDefault'] as const) {
    if (o[flag] !== undefined) {
      if (typeof o[flag] !== 'boolean') throw new BadRequestError(`${what}.${flag} must be a boolean`)
      spec[flag] = o[flag]
    }
  }
  return spec
}

const participantSchema: JsonSchema = {
  type: 'object',
  properties: {
    participantId: { type: 'string' },
    did: { type: 'string' },
    state: { type: 'string', enum: ['CREATED', 'ACTIVATED', 'DEACTIVATED'] },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' }
  },
  required: ['participantId', 'did', 'state']
}

const jwkSchema: JsonSchema = { type: 'object', description: 'A public JWK (OKP Ed25519, EC P-256…). Private members are refused.' }

const keySpecSchema: JsonSchema = {
  type: 'object',
  properties: {
    keyId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
    publicKeyJwk: jwkSchema,
    activate: { type: 'boolean' },
    isDefault: { type: 'boolean' }
  }
}

const keyPairSchema: JsonSchema = {
  type: 'object',
  properties: {
    participantId: { type: 'string' },
    keyId: { type: 'string' },
    kid: { type: 'string' },
    publicKeyJwk: jwkSchema,
    state: { type: 'string', enum: ['CREATED', 'ACTIVATED', 'ROTATED', 'REVOKED'] },
    isDefault: { type: 'boolean' },
    hasPrivateKey: { type: 'boolean' }
  },
  required: ['keyId', 'kid', 'publicKeyJwk', 'state']
}

const serviceSchema: JsonSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, type: { type: 'string' }, serviceEndpoint: { type: 'string', format: 'uri' } },
  required: ['id', 'type', 'serviceEndpoint']
}

const credentialSchema: JsonSchema = {
  type: 'object',
  properties: {
    credentialId: { type: 'string' },
    types: { type: 'array', items: { type: 'string' } },
    issuer: { type: 'string' },
    state: { type: 'string', enum: ['ISSUED', 'REVOKED'] },
    format: { type: 'string', const: 'jwt' },
    raw: { type: 'string' }
  },
  required: ['credentialId', 'types', 'issuer', 'state', 'raw']
}

const ERR = { 400: 'Malformed request', 401: 'Missing or invalid x-api-key', 403: 'The API key may not act on this participant', 404: 'No such resource' }

export function identityRoutes (org: OrgStore): Route[] {
  const P = `${IDENTITY_BASE}/participants/{participantId}`
  return [
    {
      method: 'GET', path: `${IDENTITY_BASE}/participants`, operationId: 'listParticipants', tag: 'Participant contexts', auth: 'admin',
      summary: 'List every participant context',
      responses: { 200: 'The participant contexts', 401: ERR[401], 403: 'Needs the admin key' },
      responseBody: { type: 'array', items: participantSchema },
      handler: async () => ({ status: 200, body: await org.listParticipants() })
    },
    {
      method: 'POST', path: `${IDENTITY_BASE}/participants`, operationId: 'createParticipant', tag: 'Participant contexts', auth: 'admin',
      summary: 'Create a participant context with its API key (returned once), DID document and default key pair — all or nothing',
      requestBody: {
        type: 'object',
        properties: {
          participantId: { type: 'string' },
          did: { type: 'string', description: 'A did:web DID, e.g. did:web:127.0.0.1%3A8080:org:acme' },
          active: { type: 'boolean', description: 'Activate and publish at once (default false)' },
          key: keySpecSchema,
          services: { type: 'array', items: serviceSchema }
        },
        required: ['participantId', 'did']
      },
      responses: { 201: 'Created; the body holds the API key, shown only this once', 400: ERR[400], 401: ERR[401], 403: 'Needs the admin key', 409: 'The participant id or the DID is taken' },
      responseBody: { allOf: [participantSchema, { type: 'object', properties: { apiKey: { type: 'string' }, defaultKey: keyPairSchema }, required: ['apiKey'] }] },
      handler: async (req) => {
        const b = obj(req.body, 'participant')
        const input: CreateParticipantInput = { participantId: b.participantId as string, did: b.did as string }
        if (b.active !== undefined) input.active = b.active as boolean
        if (b.key !== undefined) input.key = keySpec(b.key)
        if (b.services !== undefined) {
          if (!Array.isArray(b.services)) throw new BadRequestError('services must be an array')
          input.services = b.services as CreateParticipantInput['services']
        }
        const created = await org.createParticipant(input)
        return { status: 201, body: { ...created.participant, apiKey: created.apiKey, defaultKey: created.key } }
      }
    },
    {
      method: 'GET', path: P, operationId: 'getParticipant', tag: 'Participant contexts', auth: 'participant',
      summary: 'Get a participant context',
      responses: { 200: 'The participant context', ...ERR },
      responseBody: participantSchema,
      handler: async (req) => ({ status: 200, body: await org.getParticipant(pid(req)) })
    },
    {
      method: 'DELETE', path: P, operationId: 'deleteParticipant', tag: 'Participant contexts', auth: 'admin',
      summary: 'Delete a participant context and everything it holds (keys, private keys, DID document, credentials) in one step',
      responses: { 204: 'Deleted', 401: ERR[401], 403: 'Needs the admin key', 404: ERR[404] },
      handler: async (req) => {
        await org.deleteParticipant(pid(req))
        return { status: 204 }
      }
    },
    ...(['activate', 'deactivate'] as const).map((verb): Route => ({
      method: 'POST', path: `${P}/${verb}`, operationId: `${verb}Participant`, tag: 'Participant contexts', auth: 'admin',
      summary: verb === 'activate'
        ? 'CREATED or DEACTIVATED → ACTIVATED; publishes the DID document (needs an ACTIVATED key pair)'
        : 'ACTIVATED → DEACTIVATED; unpublishes the DID document',
      responses: { 200: 'The updated participant context', 401: ERR[401], 403: 'Needs the admin key', 404: ERR[404], 409: 'Not allowed from the current state' },
      responseBody: participantSchema,
      handler: async (req): Promise<{ status: number, body: ParticipantContext }> => ({
        status: 200,
        body: verb === 'activate' ? await org.activateParticipant(pid(req)) : await org.deactivateParticipant(pid(req))
      })
    })),
    {
      method: 'POST', path: `${P}/api-key`, operationId: 'regenerateApiKey', tag: 'Participant contexts', auth: 'participant',
      summary: 'Replace the participant\'s API key; the old one stops working at once',
      responses: { 200: 'The new API key, shown only this once', ...ERR },
      responseBody: { type: 'object', properties: { apiKey: { type: 'string' } }, required: ['apiKey'] },
      handler: async (req) => ({ status: 200, body: { apiKey: await org.regenerateApiKey(pid(req)) } })
    },
    // ── key pairs
    {
      method: 'GET', path: `${P}/keypairs`, operationId: 'listKeyPairs', tag: 'Key pairs', auth: 'participant',
      summary: 'List the participant\'s key pairs (public parts only)',
      responses: { 200: 'The key pairs', ...ERR },
      responseBody: { type: 'array', items: keyPairSchema },
      handler: async (req) => ({ status: 200, body: await org.listKeyPairs(pid(req)) })
    },
    {
      method: 'POST', path: `${P}/keypairs`, operationId: 'createKeyPair', tag: 'Key pairs', auth: 'participant',
      summary: 'Add a key pair: generated by the hub, or an imported public key (publicKeyJwk). CREATED unless activate is true',
      requestBody: keySpecSchema,
      requestBodyOptional: true,
      responses: { 201: 'The new key pair', ...ERR, 409: 'The key id is taken' },
      responseBody: keyPairSchema,
      handler: async (req) => ({ status: 201, body: await org.createKeyPair(pid(req), keySpec(req.body)) })
    },
    {
      method: 'GET', path: `${P}/keypairs/{keyId}`, operationId: 'getKeyPair', tag: 'Key pairs', auth: 'participant',
      summary: 'Get one key pair',
      responses: { 200: 'The key pair', ...ERR },
      responseBody: keyPairSchema,
      handler: async (req) => ({ status: 200, body: await org.getKeyPair(pid(req), req.params.keyId as string) })
    },
    {
      method: 'POST', path: `${P}/keypairs/{keyId}/activate`, operationId: 'activateKeyPair', tag: 'Key pairs', auth: 'participant',
      summary: 'CREATED → ACTIVATED: the key becomes a verification method of the DID document',
      responses: { 200: 'The activated key pair', ...ERR, 409: 'Not CREATED' },
      responseBody: keyPairSchema,
      handler: async (req) => ({ status: 200, body: await org.activateKeyPair(pid(req), req.params.keyId as string) })
    },
    {
      method: 'POST', path: `${P}/keypairs/{keyId}/rotate`, operationId: 'rotateKeyPair', tag: 'Key pairs', auth: 'participant',
      summary: 'ACTIVATED → ROTATED: destroys the private key, keeps the public key as a verification method; optionally creates and activates a successor in the same step',
      requestBody: { type: 'object', properties: { successor: keySpecSchema } },
      requestBodyOptional: true,
      responses: { 200: 'The rotated key pair and its successor', ...ERR, 409: 'Not ACTIVATED, or the successor id is taken' },
      responseBody: { type: 'object', properties: { rotated: keyPairSchema, successor: keyPairSchema }, required: ['rotated'] },
      handler: async (req) => {
        const b = obj(req.body, 'rotation')
        return { status: 200, body: await org.rotateKeyPair(pid(req), req.params.keyId as string, b.successor !== undefined ? keySpec(b.successor, 'successor') : undefined) }
      }
    },
    {
      method: 'POST', path: `${P}/keypairs/{keyId}/revoke`, operationId: 'revokeKeyPair', tag: 'Key pairs', auth: 'participant',
      summary: 'Revoke: destroys the private key and removes the verification method, so everything it signed stops verifying',
      responses: { 200: 'The revoked key pair', ...ERR, 409: 'Already revoked' },
      responseBody: keyPairSchema,
      handler: async (req) => ({ status: 200, body: await org.revokeKeyPair(pid(req), req.params.keyId as string) })
    },
    // ── DID documents
    {
      method: 'GET', path: `${P}/did`, operationId: 'getDidDocument', tag: 'DID documents', auth: 'participant',
      summary: 'The participant\'s DID, publication state, service endpoints and current DID document',
      responses: { 200: 'The DID resource', ...ERR },
      responseBody: { type: 'object', properties: { did: { type: 'string' }, state: { type: 'string', enum: ['PUBLISHED', 'UNPUBLISHED'] }, services: { type: 'array', items: serviceSchema }, document: { type: 'object' } }, required: ['did', 'state', 'document'] },
      handler: async (req) => ({ status: 200, body: await org.getDid(pid(req)) })
    },
    ...(['publish', 'unpublish'] as const).map((verb): Route => ({
      method: 'POST', path: `${P}/did/${verb}`, operationId: `${verb}DidDocument`, tag: 'DID documents', auth: 'participant',
      summary: verb === 'publish' ? 'Publish the DID document (served over did:web while the participant is ACTIVATED)' : 'Stop serving the DID document',
      responses: { 200: 'The DID resource', ...ERR },
      responseBody: { type: 'object', properties: { did: { type: 'string' }, state: { type: 'string' } } },
      handler: async (req) => ({ status: 200, body: verb === 'publish' ? await org.publishDid(pid(req)) : await org.unpublishDid(pid(req)) })
    })),
    {
      method: 'POST', path: `${P}/did/services`, operationId: 'addServiceEndpoint', tag: 'DID documents', auth: 'participant',
      summary: 'Add a service endpoint to the DID document (e.g. a CredentialService)',
      requestBody: serviceSchema,
      responses: { 201: 'The added service endpoint', ...ERR, 409: 'A service with this id exists' },
      responseBody: serviceSchema,
      handler: async (req) => ({ status: 201, body: await org.addService(pid(req), req.body) })
    },
    {
      method: 'DELETE', path: `${P}/did/services/{serviceId}`, operationId: 'removeServiceEndpoint', tag: 'DID documents', auth: 'participant',
      summary: 'Remove a service endpoint (serviceId: its fragment, or its full id percent-encoded)',
      responses: { 204: 'Removed', ...ERR },
      handler: async (req) => {
        await org.removeService(pid(req), req.params.serviceId as string)
        return { status: 204 }
      }
    },
    // ── credentials
    {
      method: 'GET', path: `${P}/credentials`, operationId: 'listCredentials', tag: 'Credentials', auth: 'participant',
      summary: 'List stored credentials, optionally only those of one type',
      query: [{ name: 'type', description: 'Only credentials having this type, e.g. MembershipCredential' }],
      responses: { 200: 'The credentials', ...ERR },
      responseBody: { type: 'array', items: credentialSchema },
      handler: async (req) => {
        const type = req.query.get('type')
        return { status: 200, body: (await org.listCredentials(pid(req), type ?? undefined)) }
      }
    },
    {
      method: 'POST', path: `${P}/credentials`, operationId: 'addCredential', tag: 'Credentials', auth: 'participant',
      summary: 'Store a verifiable credential in JWT form ({"jwt": "..."}); its issuer signature is verified (400 with details.reason bad_credential_signature if not)',
      requestBody: { type: 'object', properties: { jwt: { type: 'string' } }, required: ['jwt'] },
      responses: { 201: 'Stored', ...ERR, 409: 'A credential with this id is stored' },
      responseBody: { type: 'object', properties: { credentialId: { type: 'string' } }, required: ['credentialId'] },
      handler: async (req) => {
        const b = obj(req.body, 'credential')
        if (typeof b.jwt !== 'string') throw new BadRequestError('expected {"jwt": "<a JWT verifiable credential>"}')
        const [stored] = await org.storeCredentials(pid(req), [b.jwt])
        return { status: 201, body: { credentialId: stored?.credentialId, types: stored?.types, issuer: stored?.issuer } }
      }
    },
    {
      method: 'GET', path: `${P}/credentials/{credentialId}`, operationId: 'getCredential', tag: 'Credentials', auth: 'participant',
      summary: 'Get one credential (credentialId percent-encoded)',
      responses: { 200: 'The credential', ...ERR },
      responseBody: credentialSchema,
      handler: async (req) => ({ status: 200, body: await org.getCredential(pid(req), req.params.credentialId as string) })
    },
    {
      method: 'POST', path: `${P}/credentials/{credentialId}/revoke`, operationId: 'revokeCredential', tag: 'Credentials', auth: 'participant',
      summary: 'Mark a credential revoked: it is never presented again',
      responses: { 200: 'The credential', ...ERR },
      responseBody: credentialSchema,
      handler: async (req) => ({ status: 200, body: await org.revokeCredential(pid(req), req.params.credentialId as string) })
    },
    {
      method: 'DELETE', path: `${P}/credentials/{credentialId}`, operationId: 'deleteCredential', tag: 'Credentials', auth: 'participant',
      summary: 'Delete a credential',
      responses: { 204: 'Deleted', ...ERR },
      handler: async (req) => {
        await org.deleteCredential(pid(req), req.params.credentialId as string)
        return { status: 204 }
      }
    }
  ]
}
