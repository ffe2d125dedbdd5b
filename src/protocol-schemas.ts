/**
 * The hub's own wire formats, validated against protocols/*.schema.json
 * (the single source of truth; the TypeScript types next to each use mirror
 * them). One Ajv instance for all of them, with one set of options, so a
 * schema can $ref another's definitions and every format is judged alike.
 * The DCP messages are validated separately (org/dcp/schemas.ts): they are
 * the official DCP schemas, in another JSON Schema draft.
 */
import { Ajv, type ValidateFunction } from 'ajv'
import headerSchema from '../protocols/commit-header.schema.json' with { type: 'json' }
import envelopeSchema from '../protocols/commit-envelope.schema.json' with { type: 'json' }
import syncSchema from '../protocols/sync.schema.json' with { type: 'json' }
import pairSchema from '../protocols/pair.schema.json' with { type: 'json' }
import requestSchema from '../protocols/request.schema.json' with { type: 'json' }

const ajv = new Ajv({ strict: true, strictTypes: false, strictRequired: false })
for (const s of [headerSchema, envelopeSchema, syncSchema, pairSchema, requestSchema]) ajv.addSchema(s)

/** The compiled validator of a schema or definition, by `$id` (and `#/definitions/…`). */
export function protocolValidator<T> (ref: string): ValidateFunction<T> {
  const v = ajv.getSchema<T>(ref)
  if (v === undefined) throw new Error(`schema ${ref} missing`)
  return v
}
