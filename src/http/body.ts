/**
 * The request body: read up to the size cap (read-body.ts), refused when it
 * nests deeper than maxJsonDepth, parsed as UTF-8 JSON, and checked against
 * the route's published request-body schema (request-schemas.ts).
 *
 * A body that fails any of these is reported when the handler first reads
 * `req.body`, so a handler's earlier checks (unknown participant → 404, no
 * Bearer → 401) come first, in the order its protocol documents.
 */
import type { IncomingMessage } from 'node:http'
import { BadRequestError } from '../errors.js'
import { readBody } from './read-body.js'

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Whether JSON text nests arrays/objects deeper than `max` (exact for valid
 * JSON; invalid JSON is refused by JSON.parse anyway). Checked before
 * parsing: code that walks a parsed body recursively (String() of an array,
 * JSON.stringify, validators) would overflow the stack on a nesting bomb —
 * a 500 — and no message of this API nests anywhere near the limit.
 */
export function jsonDeeperThan (raw: Uint8Array, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped byte
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return false
}

/** A parsed body (undefined: empty), or why it cannot be one. */
export type ParsedBody = { ok: true, body: unknown } | { ok: false, error: BadRequestError }

/** Checks a parsed body against its operation's published schema (see request-schemas.ts). */
export type BodyValidator = (body: unknown) => ParsedBody

/** Parse raw body bytes: depth first, then UTF-8 JSON. Empty is `undefined`. */
export function parseJsonBody (raw: Uint8Array, maxDepth: number): ParsedBody {
  if (raw.length === 0) return { ok: true, body: undefined }
  if (jsonDeeperThan(raw, maxDepth)) return { ok: false, error: new BadRequestError(`the request body is nested deeper than ${maxDepth} levels`) }
  try {
    return { ok: true, body: JSON.parse(utf8.decode(raw)) }
  } catch {
    return { ok: false, error: new BadRequestError('the request body is not valid UTF-8 JSON') }
  }
}

/**
 * Read and parse the body of a POST or PUT (other methods: none). Rejects
 * only for the transport (too large: 413; cut short: 400); a malformed body
 * is a ParsedBody error, for the handler to meet.
 */
export async function readJsonBody (req: IncomingMessage, maxBytes: number, maxDepth: number): Promise<ParsedBody> {
  if (req.method !== 'POST' && req.method !== 'PUT') return { ok: true, body: undefined }
  return parseJsonBody(await readBody(req, maxBytes), maxDepth)
}

/**
 * Put the body on a request object as a getter that throws the parse or
 * schema error on first read (the schema is checked then, once).
 */
export function defineBody (target: { body: unknown }, parsed: ParsedBody, validator: BodyValidator | undefined): void {
  let checked: ParsedBody | undefined
  Object.defineProperty(target, 'body', {
    enumerable: true,
    configurable: true,
    get: () => {
      checked ??= parsed.ok && validator !== undefined ? validator(parsed.body) : parsed
      if (!checked.ok) throw checked.error
      return checked.body
    }
  })
}
