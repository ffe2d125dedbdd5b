/**
 * did:web, in one place: its syntax and canonical form, the document URL a
 * DID names, and the DID a document request names. The hub resolves did:web
 * DIDs (identity/resolver.ts), hosts them (http/did-web.ts) and compares them
 * (org/did-syntax.ts); all three must agree on every spelling, or a stored
 * DID would not be the one a resolver of its URL asks for.
 *
 * A did:web is `did:web:<host>(:<segment>)*`, each part percent-encoded.
 * Canonical form: each part decoded and encoded again so that only the
 * method's idchars stay literal (`%3a` → `%3A`, `a%2Db` → `a-b`, `!` → `%21`),
 * the host lower-cased.
 */

/** A did:web that cannot name a document (the message says why). */
export class DidWebSyntaxError extends Error {}

/** Characters a part may hold once decoded: none that would change the URL it maps to. */
const UNSAFE = /[/?#@\s]/

/** The decoded host and path segments of a did:web DID. */
export function parseDidWeb (did: string): { host: string, path: string[] } {
  if (!/^did:web:[A-Za-z0-9._%-]+(:[A-Za-z0-9._%-]+)*$/.test(did)) throw new DidWebSyntaxError('not a did:web DID')
  let parts: string[]
  try {
    parts = did.split(':').slice(2).map(p => decodeURIComponent(p))
  } catch {
    throw new DidWebSyntaxError('malformed percent-escape')
  }
  const [host, ...path] = parts as [string, ...string[]]
  if (host === '' || UNSAFE.test(host)) throw new DidWebSyntaxError('invalid host')
  if (path.some(p => p === '' || p === '.' || p === '..' || UNSAFE.test(p))) throw new DidWebSyntaxError('invalid path segment')
  return { host, path }
}

/** A part as the DID spells it: only ALPHA / DIGIT / "." / "-" / "_" stay literal (the method's idchar). */
function encodePart (p: string): string {
  return encodeURIComponent(p).replace(/[!'()*~]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** The canonical did:web of a host and decoded path segments. */
export function didWebOf (host: string, path: readonly string[] = []): string {
  return ['did', 'web', encodePart(host.toLowerCase()), ...path.map(encodePart)].join(':')
}

/** A did:web DID in canonical form; throws DidWebSyntaxError. */
export function canonicalDidWeb (did: string): string {
  const { host, path } = parseDidWeb(did)
  return didWebOf(host, path)
}

/** did:web → document URL, per the did:web method spec (`http` for `insecureHttp` or a loopback host). */
export function didWebDocumentUrl (did: string, opts: { insecureHttp: boolean, isLoopbackHost: (host: string) => boolean }): string {
  const { host, path } = parseDidWeb(did)
  const scheme = opts.insecureHttp || opts.isLoopbackHost(host) ? 'http' : 'https'
  // Path segments stay percent-encoded in the URL (the spec replaces `:` by
  // `/` and decodes only the host's port colon): a segment holding `%` or a
  // space must not become a different, or an invalid, URL path.
  return path.length === 0
    ? `${scheme}://${host}/.well-known/did.json`
    : `${scheme}://${host}/${path.map(encodePart).join('/')}/did.json`
}

/** The canonical did:web a request for `urlPath` (percent-encoded) on `host` names, or undefined if it is no document path. */
export function didWebForRequest (host: string, urlPath: string): string | undefined {
  if (host === '' || UNSAFE.test(host)) return undefined
  if (urlPath === '/.well-known/did.json') return didWebOf(host)
  if (!urlPath.endsWith('/did.json')) return undefined
  let segments: string[]
  try {
    segments = urlPath.slice(1, -'/did.json'.length).split('/').map(s => decodeURIComponent(s))
  } catch {
    return undefined
  }
  if (segments.some(s => s === '' || s === '.' || s === '..' || UNSAFE.test(s))) return undefined
  return didWebOf(host, segments)
}
