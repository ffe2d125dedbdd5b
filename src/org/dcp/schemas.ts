/**
 * Validators for the Eclipse Decentralized Claims Protocol (DCP) messages.
 *
 * The official JSON Schemas are vendored unchanged in `protocols/dcp/` (see
 * its README) and are the single source of truth; the TypeScript types below
 * mirror them. They are imported as JSON modules, like the other schemas in
 * `protocols/`, so `tsc` copies them next to the compiled file
 * (`dist/protocols/dcp/…`) and a fresh clone needs nothing from outside the
 * repository.
 *
 * The upstream files do not compile as-is; every workaround is applied here,
 * in code, so the vendored copies stay byte-identical to upstream:
 *  - `common/context-schema.json` declares the `$id` `…/v08/…` but every
 *    other schema references `…/v1.0/…`: it is registered under the v1.0 id.
 *  - The presentation and credential-object schemas `$ref` the DIF
 *    Presentation Exchange schemas, which are not shipped: permissive
 *    stand-ins (any JSON object) are registered under those ids. A
 *    presentation definition's structure is checked, against the subset the
 *    hub supports and its caps, by `compileDefinition` in
 *    presentation-exchange.ts (which also builds the submission we send), so
 *    the stand-ins only need to let the object through.
 *  - `issuance/credential-message-schema.json` carries a `…/presentation/…`
 *    `$id`; it is looked up by that id.
 *  - The credential message schema requires `type` but constrains a
 *    `credentialType` property instead (upstream typo), so
 *    {@link validateCredentialMessage} checks `type` itself; the credential
 *    request schema requires `type` without constraining it, so
 *    {@link validateCredentialRequest} checks it too.
 *  - Ajv's strict mode flags two upstream constructs that are legal JSON
 *    Schema (`items` under a string-typed schema in the context schema, and
 *    `required` inside `anyOf` branches): `strictTypes` and `strictRequired`
 *    are off, every other strict check is on.
 *  - `format` is an annotation, not an assertion (the draft 2019-09 default,
 *    and what the upstream Java test-suite does): the official examples use a
 *    bare UUID where `credential-object-schema.json` says `format: uri`.
 */
import { Ajv2019 } from 'ajv/dist/2019.js'
import type { ErrorObject, ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import contextSchema from '../../../protocols/dcp/common/context-schema.json' with { type: 'json' }
import presentationQuerySchema from '../../../protocols/dcp/presentation/presentation-query-message-schema.json' with { type: 'json' }
import presentationResponseSchema from '../../../protocols/dcp/presentation/presentation-response-message-schema.json' with { type: 'json' }
import credentialMessageSchema from '../../../protocols/dcp/issuance/credential-message-schema.json' with { type: 'json' }
import credentialObjectSchema from '../../../protocols/dcp/issuance/credential-object-schema.json' with { type: 'json' }
import credentialOfferSchema from '../../../protocols/dcp/issuance/credential-offer-message-schema.json' with { type: 'json' }
import credentialRequestSchema from '../../../protocols/dcp/issuance/credential-request-message-schema.json' with { type: 'json' }
import credentialStatusSchema from '../../../protocols/dcp/issuance/credential-status-schema.json' with { type: 'json' }
import issuerMetadataSchema from '../../../protocols/dcp/issuance/issuer-metadata-schema.json' with { type: 'json' }
import { BadRequestError } from '../../errors.js'

/** The JSON-LD context every DCP message must list. */
export const DCP_CONTEXT = 'https://w3id.org/dspace-dcp/v1.0/dcp.jsonld'

/** The id the DCP schemas use to reference the context schema (which itself claims a v08 id). */
export const CONTEXT_SCHEMA_ID = 'https://w3id.org/dspace-dcp/v1.0/common/context-schema.json'
const PE_DEFINITION_ID = 'https://identity.foundation/presentation-exchange/schemas/presentation-definition.json'
const PE_SUBMISSION_ID = 'https://identity.foundation/presentation-exchange/schemas/presentation-submission.json'

/**
 * Every vendored schema file (path relative to `protocols/dcp/`) and the
 * `$id` it is registered under.
 */
export const DCP_SCHEMA_FILES = {
  'common/context-schema.json': CONTEXT_SCHEMA_ID,
  'presentation/presentation-query-message-schema.json': presentationQuerySchema.$id,
  'presentation/presentation-response-message-schema.json': presentationResponseSchema.$id,
  'issuance/credential-message-schema.json': credentialMessageSchema.$id,
  'issuance/credential-object-schema.json': credentialObjectSchema.$id,
  'issuance/credential-offer-message-schema.json': credentialOfferSchema.$id,
  'issuance/credential-request-message-schema.json': credentialRequestSchema.$id,
  'issuance/credential-status-schema.json': credentialStatusSchema.$id,
  'issuance/issuer-metadata-schema.json': issuerMetadataSchema.$id
} as const

export type DcpSchemaFile = keyof typeof DCP_SCHEMA_FILES

/** A DCP presentation query (`POST …/presentations/query`). */
export interface PresentationQueryMessage {
  '@context': string[]
  type: 'PresentationQueryMessage'
  /** DCP scope strings (see `scopes.ts`); at least one when present. */
  scope?: string[]
  /** A DIF Presentation Exchange v2 definition; checked and evaluated by presentation-exchange.ts. */
  presentationDefinition?: Record<string, unknown>
}

/** The answer to a presentation query: JWT VPs (strings) or JSON-LD VPs (objects). */
export interface PresentationResponseMessage {
  '@context': string[]
  type: 'PresentationResponseMessage'
  presentation: Array<string | Record<string, unknown>>
  /** A DIF Presentation Exchange submission (presentation-exchange.ts `PresentationSubmission`) when the query had a definition. */
  presentationSubmission?: Record<string, unknown>
}

/** One credential delivered by an issuer in a {@link CredentialMessage}. */
export interface CredentialContainer {
  /** A JWT VC string (format `jwt`, `vc1_0_jwt`, …) or a serialised JSON-LD credential. */
  payload: string
  credentialType: string
  format: string
}

/** What an issuer posts to the holder's credential storage endpoint. */
export interface CredentialMessage {
  '@context': string[]
  type: 'CredentialMessage'
  issuerPid: string
  holderPid?: string
  status: 'ISSUED' | 'REJECTED'
  credentials?: CredentialContainer[]
  format?: string
  rejectionReason?: string
}

/** What a holder posts to an issuer's `…/credentials` endpoint (DCP issuance). */
export interface CredentialRequestMessage {
  '@context': string[]
  type: 'CredentialRequestMessage'
  /** The holder's id for this request, echoed by the issuer. */
  holderPid: string
  /** The credential objects (definitions) asked for, by id. */
  credentials: Array<{ id: string }>
}

/** The issuer's answer to `GET …/requests/{issuerPid}`. */
export interface CredentialStatusMessage {
  '@context': string[]
  type: 'CredentialStatus'
  issuerPid: string
  holderPid: string
  status: 'RECEIVED' | 'REJECTED' | 'ISSUED'
}

/** One entry of {@link IssuerMetadata.credentialsSupported}. */
export interface CredentialObject {
  id: string
  type: 'CredentialObject'
  credentialType: string
  credentialSchema: string
  offerReason: string
  bindingMethods: string[]
  profile: string
  issuancePolicy?: Record<string, unknown>
}

/** The issuer's `GET …/metadata`. */
export interface IssuerMetadata {
  '@context': string[]
  type: 'IssuerMetadata'
  issuer: string
  credentialsSupported: CredentialObject[]
}

/** Options for {@link createDcpAjv}; the defaults are what this module uses. */
export interface DcpAjvOptions {
  /**
   * Assert `format` keywords (via ajv-formats) instead of treating them as
   * annotations. Off by default; exists so tests can show which official
   * examples would fail a strict reading.
   */
  assertFormats?: boolean
}

// ajv-formats is CommonJS with `exports.default`; under NodeNext the default
// import is the whole `module.exports`, which at run time is the plugin itself
// but is typed as the module namespace.
type FormatsPlugin = (ajv: Ajv2019) => Ajv2019
const addFormats = ((addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? addFormatsModule) as unknown as FormatsPlugin

/**
 * A fresh Ajv instance with every DCP schema (and the stand-ins) registered.
 * Exported for tests and for future issuance endpoints; most callers want the
 * `validate…` functions below.
 */
export function createDcpAjv (opts: DcpAjvOptions = {}): Ajv2019 {
  const assertFormats = opts.assertFormats === true
  const ajv = new Ajv2019({
    allErrors: true,
    strict: true,
    strictTypes: false,
    strictRequired: false,
    validateFormats: assertFormats
  })
  if (assertFormats) addFormats(ajv)
  ajv.addSchema({ ...contextSchema, $id: CONTEXT_SCHEMA_ID })
  ajv.addSchema({ $id: PE_DEFINITION_ID, type: 'object' })
  ajv.addSchema({ $id: PE_SUBMISSION_ID, type: 'object', properties: { presentation_submission: { type: 'object' } } })
  ajv.addSchema([
    presentationQuerySchema,
    presentationResponseSchema,
    credentialMessageSchema,
    credentialObjectSchema,
    credentialOfferSchema,
    credentialRequestSchema,
    credentialStatusSchema,
    issuerMetadataSchema
  ])
  return ajv
}

/** The compiled validator for one vendored schema file. */
export function dcpValidator (ajv: Ajv2019, file: DcpSchemaFile): ValidateFunction {
  const v = ajv.getSchema(DCP_SCHEMA_FILES[file])
  if (v === undefined) throw new Error(`DCP schema ${file} is not registered`)
  return v
}

const ajv = createDcpAjv()
const queryValidator = dcpValidator(ajv, 'presentation/presentation-query-message-schema.json')
const responseValidator = dcpValidator(ajv, 'presentation/presentation-response-message-schema.json')
const credentialMessageValidator = dcpValidator(ajv, 'issuance/credential-message-schema.json')
const credentialRequestValidator = dcpValidator(ajv, 'issuance/credential-request-message-schema.json')
const credentialStatusValidator = dcpValidator(ajv, 'issuance/credential-status-schema.json')
const issuerMetadataValidator = dcpValidator(ajv, 'issuance/issuer-metadata-schema.json')
const credentialOfferValidator = dcpValidator(ajv, 'issuance/credential-offer-message-schema.json')

const MAX_REPORTED_ERRORS = 10

/** Ajv errors as data: enough to fix the message, never the message itself. */
export interface SchemaErrorSummary {
  instancePath: string
  keyword: string
  message: string
  params: Record<string, unknown>
}

function summarise (errors: ErrorObject[] | null | undefined): SchemaErrorSummary[] {
  return (errors ?? []).slice(0, MAX_REPORTED_ERRORS).map(e => ({
    instancePath: e.instancePath,
    keyword: e.keyword,
    message: e.message ?? 'is invalid',
    params: e.params
  }))
}

function schemaError (what: string, errors: SchemaErrorSummary[]): BadRequestError {
  const text = errors.map(e => `${e.instancePath === '' ? '(root)' : e.instancePath} ${e.message}`).join('; ')
  return new BadRequestError(`invalid ${what}: ${text === '' ? 'does not match its schema' : text}`, { schema: what, errors })
}

function check (validate: ValidateFunction, what: string, body: unknown): void {
  if (!validate(body)) throw schemaError(what, summarise(validate.errors))
}

/** `type` must name the message: some upstream schemas require the property without constraining it. */
function checkType (what: string, body: unknown): void {
  if ((body as { type?: unknown }).type !== what) {
    throw schemaError(what, [{ instancePath: '/type', keyword: 'const', message: 'must be equal to constant', params: { allowedValue: what } }])
  }
}

/** Validate an incoming presentation query. Throws {@link BadRequestError}. */
export function validatePresentationQuery (body: unknown): PresentationQueryMessage {
  check(queryValidator, 'PresentationQueryMessage', body)
  return body as PresentationQueryMessage
}

/**
 * Validate a presentation response, normally one this hub is about to send:
 * a failure here is a bug on our side, but it is reported like any other
 * schema violation so the caller decides.
 */
export function validatePresentationResponse (msg: unknown): void {
  check(responseValidator, 'PresentationResponseMessage', msg)
}

/**
 * Validate a credential message posted by an issuer. On top of the schema,
 * `type` must be `CredentialMessage` (the upstream schema constrains a
 * misnamed `credentialType` property instead).
 */
export function validateCredentialMessage (body: unknown): CredentialMessage {
  check(credentialMessageValidator, 'CredentialMessage', body)
  checkType('CredentialMessage', body)
  return body as CredentialMessage
}

/**
 * Validate a credential request posted by a holder. On top of the schema,
 * `type` must be `CredentialRequestMessage` (the schema requires the
 * property but does not constrain it).
 */
export function validateCredentialRequest (body: unknown): CredentialRequestMessage {
  check(credentialRequestValidator, 'CredentialRequestMessage', body)
  checkType('CredentialRequestMessage', body)
  return body as CredentialRequestMessage
}

/** Validate a CredentialStatus, normally one this hub is about to send (a failure is a bug on our side). */
export function validateCredentialStatus (msg: unknown): CredentialStatusMessage {
  check(credentialStatusValidator, 'CredentialStatus', msg)
  return msg as CredentialStatusMessage
}

/** Validate IssuerMetadata, normally this hub's own before it is sent. */
export function validateIssuerMetadata (msg: unknown): IssuerMetadata {
  check(issuerMetadataValidator, 'IssuerMetadata', msg)
  return msg as IssuerMetadata
}

/** What an issuer posts to a holder's `…/offers` (DCP Credential Offer API). */
export interface CredentialOfferMessage {
  '@context': string[]
  type: 'CredentialOfferMessage'
  issuer: string
  credentials: Array<Partial<CredentialObject> & { id: string, type: 'CredentialObject' }>
}

/** Validate a CredentialOfferMessage: one received by a holder, or one this hub is about to send. Throws {@link BadRequestError}. */
export function validateCredentialOffer (msg: unknown): CredentialOfferMessage {
  check(credentialOfferValidator, 'CredentialOfferMessage', msg)
  return msg as CredentialOfferMessage
}
