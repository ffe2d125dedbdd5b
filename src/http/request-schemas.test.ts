/**
 * Request bodies are checked against the schemas the OpenAPI document
 * publishes: every published request-body schema compiles, and for each
 * endpoint family a valid body passes and an invalid one is a typed
 * bad_request naming the schema, with Ajv's errors in its details.
 */
import { describe, expect, it } from 'vitest'
import { BadRequestError } from '../errors.js'
import { DCP_CONTEXT } from '../org/dcp/schemas.js'
import { routesOf, type RouteComponents } from './app.js'
import { API_VERSION, openApiDocument } from './openapi.js'
import { requestBodyValidators } from './request-schemas.js'

// The handlers are never called: a stand-in hub is enough to build the table.
const parts = { org: {}, dcpReplay: {}, log: { child: () => ({}) }, resolveDocument: async () => ({}), issuance: async () => ({}) } as unknown as RouteComponents
const document = openApiDocument(routesOf(parts), API_VERSION)
const validators = requestBodyValidators(document)

function check (operationId: string, body: unknown): { ok: true } | { ok: false, error: BadRequestError } {
  const v = validators.get(operationId)
  if (v === undefined) throw new Error(`no validator for ${operationId}`)
  const r = v(body)
  return r.ok ? { ok: true } : { ok: false, error: r.error }
}

function expectInvalid (operationId: string, body: unknown, schema: string, instancePath: string): void {
  const r = check(operationId, body)
  expect(r.ok, `${operationId} ${JSON.stringify(body)}`).toBe(false)
  if (r.ok) return
  expect(r.error).toBeInstanceOf(BadRequestError)
  expect(r.error.code).toBe('bad_request')
  expect(r.error.details?.schema).toBe(schema)
  const errors = r.error.details?.errors as Array<{ instancePath: string, keyword: string, message: string }>
  expect(errors.length).toBeGreaterThan(0)
  expect(errors.map(e => e.instancePath)).toContain(instancePath)
  expect(r.error.message).toMatch(/^invalid /)
}

describe('request-body schemas from the OpenAPI document', () => {
  it('has a compiled validator for every operation that publishes a request body, and only those', () => {
    const published: string[] = []
    for (const item of Object.values(document.paths as Record<string, Record<string, { operationId: string, requestBody?: unknown }>>)) {
      for (const op of Object.values(item)) if (op.requestBody !== undefined) published.push(op.operationId)
    }
    expect(published.length).toBeGreaterThanOrEqual(10)
    expect([...validators.keys()].sort()).toEqual(published.sort())
  })

  it('an optional body may be omitted; a required one may not', () => {
    expect(check('createKeyPair', undefined).ok).toBe(true)
    expect(check('rotateKeyPair', undefined).ok).toBe(true)
    const r = check('createParticipant', undefined)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.message).toMatch(/needs a JSON request body/)
  })

  it('participant contexts', () => {
    expect(check('createParticipant', { participantId: 'acme', did: 'did:web:example.com:acme', active: true }).ok).toBe(true)
    expectInvalid('createParticipant', { participantId: 7, did: 'did:web:example.com' }, 'createParticipant', '/participantId')
    expectInvalid('createParticipant', { participantId: 'acme' }, 'createParticipant', '')
    expectInvalid('createParticipant', [], 'createParticipant', '')
  })

  it('key pairs', () => {
    expect(check('createKeyPair', { keyId: 'key-2', activate: true }).ok).toBe(true)
    expectInvalid('createKeyPair', { keyId: '-starts-with-a-dash' }, 'createKeyPair', '/keyId')
    expect(check('rotateKeyPair', { successor: { keyId: 'key-3' } }).ok).toBe(true)
    expectInvalid('rotateKeyPair', { successor: { activate: 'yes' } }, 'rotateKeyPair', '/successor/activate')
  })

  it('DID service endpoints', () => {
    expect(check('addServiceEndpoint', { id: 'cs', type: 'CredentialService', serviceEndpoint: 'https://example.com/cs' }).ok).toBe(true)
    expectInvalid('addServiceEndpoint', { id: 'cs', type: 'CredentialService' }, 'addServiceEndpoint', '')
  })

  it('credentials', () => {
    expect(check('addCredential', { jwt: 'a.b.c' }).ok).toBe(true)
    expectInvalid('addCredential', { jwt: ['a.b.c'] }, 'addCredential', '/jwt')
  })

  it('issuance: definitions and holder requests', () => {
    expect(check('createCredentialDefinition', { id: 'member', credentialType: 'MembershipCredential', validitySeconds: 60 }).ok).toBe(true)
    expectInvalid('createCredentialDefinition', { id: 'member', credentialType: 'MembershipCredential', validitySeconds: 0 }, 'createCredentialDefinition', '/validitySeconds')
    expect(check('requestCredentials', { issuerDid: 'did:web:issuer.example', credentials: ['member'] }).ok).toBe(true)
    expectInvalid('requestCredentials', { issuerDid: 'did:web:issuer.example', credentials: [1] }, 'requestCredentials', '/credentials/0')
  })

  it('the token service', () => {
    expect(check('issueToken', { audience: 'did:web:v.example', scope: 'a b', ttl: 60 }).ok).toBe(true)
    expect(check('issueToken', { audience: 'did:web:v.example', scope: ['a'] }).ok).toBe(true)
    expectInvalid('issueToken', { audience: 'did:web:v.example', ttl: 3601 }, 'issueToken', '/ttl')
  })

  it('DCP messages: the official schemas, named by message type', () => {
    const query = { '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', scope: ['org.eclipse.dspace.dcp.vc.type:MembershipCredential'] }
    expect(check('queryPresentation', query).ok).toBe(true)
    expectInvalid('queryPresentation', { type: 'PresentationQueryMessage', scope: [] }, 'PresentationQueryMessage', '')
    expectInvalid('queryPresentation', [query], 'PresentationQueryMessage', '')

    const message = { '@context': [DCP_CONTEXT], type: 'CredentialMessage', issuerPid: 'i-1', holderPid: 'h-1', status: 'ISSUED', credentials: [] }
    expect(check('storeCredentials', message).ok).toBe(true)
    expectInvalid('storeCredentials', { ...message, status: 'MAYBE' }, 'CredentialMessage', '/status')

    const request = { '@context': [DCP_CONTEXT], type: 'CredentialRequestMessage', holderPid: 'h-1', credentials: [{ id: 'member' }] }
    expect(check('requestCredentialIssuance', request).ok).toBe(true)
    expectInvalid('requestCredentialIssuance', { ...request, credentials: [{}] }, 'CredentialRequestMessage', '/credentials/0')
  })

  it('publishes DCP request bodies as references to the official schema ids', () => {
    const paths = document.paths as Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { $ref?: string } }> } }>>
    const query = paths['/api/credentials/v1/participants/{participantId}/presentations/query']?.post
    expect(query?.requestBody?.content['application/json']?.schema.$ref).toBe('https://w3id.org/dspace-dcp/v1.0/presentation/presentation-query-message-schema.json')
  })
})
