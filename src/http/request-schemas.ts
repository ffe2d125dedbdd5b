/**
 * Request bodies checked against the schemas the OpenAPI document publishes:
 * the document is generated from the route table (openapi.ts), and each
 * operation's `requestBody` schema is compiled once, with the project's DCP
 * Ajv setup (org/dcp/schemas.ts: draft 2019-09, strict, formats as
 * annotations). A body that does not match is a 400 `bad_request` whose
 * details name the schema (its title, e.g. a DCP message type, or else the
 * operation) and carry Ajv's errors (as the DCP schema
 * checks do: `{ schema, errors: [{ instancePath, keyword, message, params }] }`).
 */
import type { ErrorObject, ValidateFunction } from 'ajv'
import { BadRequestError } from '../errors.js'
import { createDcpAjv } from '../org/dcp/schemas.js'
import type { BodyValidator } from './body.js'

/** Check a parsed body (undefined: none was sent). */
export type { BodyValidator }

const MAX_REPORTED_ERRORS = 10

interface Operation {
  operationId?: string
  requestBody?: { required?: boolean, content?: Record<string, { schema?: object }> }
}

let ajv: ReturnType<typeof createDcpAjv> | undefined
/** Compiled schemas by their JSON text: the same schema, in any server, is compiled once per process. */
const compiled = new Map<string, ValidateFunction>()

function compile (schema: object): ValidateFunction {
  const key = JSON.stringify(schema)
  let v = compiled.get(key)
  if (v === undefined) {
    ajv ??= createDcpAjv()
    v = ajv.compile(schema)
    compiled.set(key, v)
  }
  return v
}

/** `name`: the schema's title (a DCP message type) or else the operation. */
function schemaError (name: string, what: string, errors: ErrorObject[] | null | undefined): BadRequestError {
  const list = (errors ?? []).slice(0, MAX_REPORTED_ERRORS).map(e => ({ instancePath: e.instancePath, keyword: e.keyword, message: e.message ?? 'is invalid', params: e.params }))
  const text = list.map(e => `${e.instancePath === '' ? '(root)' : e.instancePath} ${e.message}`).join('; ')
  return new BadRequestError(`invalid ${what}: ${text === '' ? 'does not match its schema' : text}`, { schema: name, errors: list })
}

function validatorOf (operationId: string, schema: { title?: unknown }, required: boolean, validate: ValidateFunction): BodyValidator {
  const name = typeof schema.title === 'string' ? schema.title : operationId
  const what = typeof schema.title === 'string' ? name : `request body for ${operationId}`
  return body => {
    if (body === undefined) {
      return required
        ? { ok: false, error: new BadRequestError(`${operationId} needs a JSON request body`, { schema: name, errors: [] }) }
        : { ok: true, body }
    }
    return validate(body) ? { ok: true, body } : { ok: false, error: schemaError(name, what, validate.errors) }
  }
}

/**
 * A validator per operationId, for every operation of an OpenAPI document
 * that publishes an `application/json` request-body schema.
 */
export function requestBodyValidators (document: { paths?: unknown }): Map<string, BodyValidator> {
  const out = new Map<string, BodyValidator>()
  const paths = (document.paths ?? {}) as Record<string, Record<string, Operation>>
  for (const item of Object.values(paths)) {
    for (const op of Object.values(item)) {
      const schema = op.requestBody?.content?.['application/json']?.schema
      if (op.operationId === undefined || schema === undefined) continue
      out.set(op.operationId, validatorOf(op.operationId, schema, op.requestBody?.required === true, compile(schema)))
    }
  }
  return out
}
