/**
 * The OpenAPI 3.1 document, generated from the route table so it always
 * matches what is served (served at /api/identity/v1/openapi.json).
 */
import type { JsonSchema, Route } from './router.js'

/** The version of the HTTP API, in the OpenAPI document. */
export const API_VERSION = '1.0.0'

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } },
      required: ['code', 'message']
    }
  },
  required: ['error']
}

const SECURITY: Record<Route['auth'], Array<Record<string, string[]>>> = {
  none: [],
  admin: [{ apiKey: [] }],
  participant: [{ apiKey: [] }],
  bearer: [{ selfIssuedIdToken: [] }]
}

export function openApiDocument (routes: readonly Route[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const r of routes) {
    const path = r.path.replace(/\{([A-Za-z]+)\+\}/g, '{$1}')
    const params = [...r.path.matchAll(/\{([A-Za-z]+)(\+?)\}/g)].map(m => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
      ...(m[2] === '+' ? { description: 'One or more path segments' } : {})
    }))
    const query = (r.query ?? []).map(q => ({ name: q.name, in: 'query', required: false, description: q.description, schema: { type: 'string' } }))
    const responses: Record<string, unknown> = {}
    for (const [status, description] of Object.entries(r.responses)) {
      const ok = Number(status) < 300
      responses[status] = ok
        ? (r.responseBody !== undefined && status !== '204' ? { description, content: { [r.responseType ?? 'application/json']: { schema: r.responseBody } } } : { description })
        : { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
    }
    paths[path] ??= {}
    paths[path][r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      security: SECURITY[r.auth],
      ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
      ...(r.requestBody !== undefined ? { requestBody: { required: r.requestBodyOptional !== true, content: { 'application/json': { schema: r.requestBody } } } } : {}),
      responses
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Identity Hub HTTP API',
      version,
      description: 'Identity API (participant contexts, key pairs, DID documents, credentials), did:web hosting, and the Decentralized Claims Protocol endpoints. Errors are {"error":{"code","message"}} with a stable code.'
    },
    paths,
    components: {
      schemas: { Error: ERROR_SCHEMA },
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'The admin key, or a participant\'s own API key' },
        selfIssuedIdToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'DCP self-issued ID token' }
      }
    }
  }
}
