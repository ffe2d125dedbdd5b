/**
 * DCP scopes (DCP 1.0 §"Scopes"): `[alias]:[discriminator]`, where the two
 * aliases every implementation must support are
 *  - `org.eclipse.dspace.dcp.vc.type:<Type>` — read access to credentials of a type;
 *  - `org.eclipse.dspace.dcp.vc.id:<id>` — read access to one credential.
 *
 * Deployments built on the pre-1.0 drafts (EDC, Catena-X) still send a
 * three-part `…vc.type:<Type>:read` (or `:all`); both mean read, which is the
 * only thing a scope grants here, so they are normalised to the two-part
 * form. Anything asking for another operation is refused rather than
 * silently downgraded, so a misconfigured peer finds out.
 *
 * Ids are taken verbatim after the first `:` following the alias, since
 * credential ids are usually URIs (`urn:uuid:…`) and contain colons.
 */
import { BadRequestError } from '../../errors.js'
import type { ParsedCredential } from '../vc.js'

export const TYPE_ALIAS = 'org.eclipse.dspace.dcp.vc.type'
export const ID_ALIAS = 'org.eclipse.dspace.dcp.vc.id'

export type ScopeKind = 'type' | 'id'

export interface Scope {
  kind: ScopeKind
  /** The credential type or id. */
  value: string
  /** The canonical two-part string, e.g. `org.eclipse.dspace.dcp.vc.type:MembershipCredential`. */
  scope: string
}

/** Legacy operation suffixes that mean "read". */
const READ_OPERATIONS = new Set(['read', 'all'])
/** Operations a three-part scope may name; only the read ones are accepted. */
const KNOWN_OPERATIONS = new Set([...READ_OPERATIONS, 'write', 'create', 'update', 'delete', 'modify'])

function invalid (scope: string, message: string): BadRequestError {
  return new BadRequestError(`invalid DCP scope: ${message}`, { scope })
}

/**
 * Split a type discriminator into type and legacy operation. The suffix is
 * only taken as an operation when it is a bare word; `Type:word` is always
 * the three-part form, while a longer value (an IRI or URN used as a type)
 * only loses a suffix that is a known operation name.
 */
function typeValue (raw: string, scope: string): string {
  const colon = raw.lastIndexOf(':')
  if (colon < 0) return raw
  const op = raw.slice(colon + 1)
  if (op === '') throw invalid(scope, 'empty operation after ":"')
  if (!/^[A-Za-z]+$/.test(op)) return raw
  const lower = op.toLowerCase()
  const threePart = raw.indexOf(':') === colon
  if (!threePart && !KNOWN_OPERATIONS.has(lower)) return raw
  if (!READ_OPERATIONS.has(lower)) throw invalid(scope, `operation "${op}" is not supported (DCP scopes grant read access only)`)
  return raw.slice(0, colon)
}

/** Parse and normalise one scope string. Throws {@link BadRequestError} with `details.scope`. */
export function parseScope (scope: string): Scope {
  // Not String(scope): for a deeply nested array (from a request body) that recurses past the stack.
  if (typeof scope !== 'string') throw invalid(Array.isArray(scope) ? '(an array)' : typeof scope, 'a scope must be a string')
  if (scope === '') throw invalid(scope, 'empty scope')
  if (/\s/.test(scope)) throw invalid(scope, 'scopes cannot contain whitespace')
  const colon = scope.indexOf(':')
  if (colon < 0) throw invalid(scope, 'expected <alias>:<value>')
  const alias = scope.slice(0, colon)
  const rest = scope.slice(colon + 1)
  let kind: ScopeKind
  let value: string
  if (alias === TYPE_ALIAS) {
    kind = 'type'
    value = typeValue(rest, scope)
  } else if (alias === ID_ALIAS) {
    kind = 'id'
    value = rest
  } else {
    throw invalid(scope, `unknown alias "${alias}"`)
  }
  if (value === '') throw invalid(scope, 'empty value')
  return { kind, value, scope: `${kind === 'type' ? TYPE_ALIAS : ID_ALIAS}:${value}` }
}

/** Parse a list; duplicates (after normalisation) are dropped, order kept. */
export function parseScopes (list: readonly string[]): Scope[] {
  const seen = new Map<string, Scope>()
  for (const s of list) {
    const parsed = parseScope(s)
    if (!seen.has(parsed.scope)) seen.set(parsed.scope, parsed)
  }
  return [...seen.values()]
}

/**
 * Whether `granted` covers `requested`. Exact match after normalisation: a
 * type grant does not imply an id grant or vice versa, because the hub
 * cannot know in advance which credential an id will name.
 */
export function scopeCovers (granted: readonly Scope[], requested: Scope): boolean {
  return granted.some(g => g.scope === requested.scope)
}

/** Whether a credential falls under a scope: by type membership or by exact id. */
export function credentialMatches (scope: Scope, cred: Pick<ParsedCredential, 'id' | 'types'>): boolean {
  return scope.kind === 'type' ? cred.types.includes(scope.value) : cred.id === scope.value
}
