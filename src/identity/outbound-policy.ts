/**
 * The outbound policy (outbound.ts): its modes (`HUB_OUTBOUND`), the mode in
 * force for this process, and the checks of a URL before anything is
 * resolved or connected to. Kept apart from the connection
 * (outbound-fetch.ts) so that code writing URLs into records can check them
 * without pulling in node:http.
 */
import { environment } from '#platform/env'
import { BadRequestError } from '../errors.js'
import { classifyAddress, isLocalhostName, isLoopbackHost, type AddressKind } from './outbound-address.js'

export type OutboundMode = 'deny' | 'loopback' | 'private'
export const OUTBOUND_MODES: readonly OutboundMode[] = ['deny', 'loopback', 'private']

const ALLOWED: Record<OutboundMode, ReadonlySet<AddressKind>> = {
  deny: new Set(['public']),
  loopback: new Set(['public', 'loopback']),
  private: new Set(['public', 'loopback', 'private', 'unique-local'])
}

/** Whether the policy `mode` lets outbound requests reach an address of this kind. */
export function addressAllowed (kind: AddressKind, mode: OutboundMode = outboundMode()): boolean {
  return ALLOWED[mode].has(kind)
}

/**
 * The mode the operator chose, if any: `HUB_OUTBOUND` (deny, loopback,
 * private), else `HUB_OUTBOUND_LOOPBACK` (`deny` → deny, `allow` →
 * loopback). An unknown value counts as `deny` (fail closed; the daemon
 * refuses to start with one: {@link checkOutboundEnv}).
 */
export function chosenOutboundMode (env: Readonly<Record<string, string | undefined>> = environment()): OutboundMode | undefined {
  const mode = env.HUB_OUTBOUND
  if (mode !== undefined && mode !== '') return (OUTBOUND_MODES as readonly string[]).includes(mode) ? mode as OutboundMode : 'deny'
  const loopback = env.HUB_OUTBOUND_LOOPBACK
  if (loopback === undefined || loopback === '') return undefined
  return loopback === 'allow' ? 'loopback' : 'deny'
}

/** Throws `bad_request` for a `HUB_OUTBOUND` or `HUB_OUTBOUND_LOOPBACK` value that means nothing. */
export function checkOutboundEnv (env: Readonly<Record<string, string | undefined>> = environment()): void {
  const mode = env.HUB_OUTBOUND
  if (mode !== undefined && mode !== '' && !(OUTBOUND_MODES as readonly string[]).includes(mode)) {
    throw new BadRequestError(`HUB_OUTBOUND=${mode} is not a mode: use ${OUTBOUND_MODES.join(', ')}`, { reason: 'bad_outbound_mode' })
  }
  const loopback = env.HUB_OUTBOUND_LOOPBACK
  if (loopback !== undefined && loopback !== '' && loopback !== 'deny' && loopback !== 'allow') {
    throw new BadRequestError(`HUB_OUTBOUND_LOOPBACK=${loopback} means nothing: use deny or allow (or HUB_OUTBOUND=${OUTBOUND_MODES.join('|')})`, { reason: 'bad_outbound_mode' })
  }
}

/** HTTP servers of this process listening beyond loopback (restrictOutboundFor). */
let exposedListeners = 0

/**
 * The outbound policy in force: the operator's choice
 * ({@link chosenOutboundMode}), else `deny` while an HTTP server of this
 * process listens beyond loopback, else `loopback`.
 */
export function outboundMode (): OutboundMode {
  return chosenOutboundMode() ?? (exposedListeners > 0 ? 'deny' : 'loopback')
}

/**
 * Call before an HTTP server starts listening on `host`: beyond loopback
 * (0.0.0.0, ::, a LAN or public address, a host name that is not
 * localhost) the default mode becomes `deny` until the returned release
 * function is called (when that server has closed). On loopback it changes
 * nothing.
 */
export function restrictOutboundFor (host: string): () => void {
  if (isLoopbackHost(host)) return () => {}
  exposedListeners++
  let released = false
  return () => {
    if (released) return
    released = true
    exposedListeners--
  }
}

/** Whether outbound requests may go to loopback hosts (the policy allows loopback addresses). */
export function loopbackAllowed (): boolean {
  return addressAllowed('loopback')
}

/** A `details.reason` of its own for a target the policy refuses, whatever the caller's other reasons. */
export const FORBIDDEN_ADDRESS = 'forbidden_address'

function describeKind (kind: AddressKind): string {
  return kind === 'unique-local' ? 'a unique-local' : `a${/^[aeiou]/.test(kind) ? 'n' : ''} ${kind}`
}

/** Refusal of a target by the outbound policy (`bad_request`, `details.reason` forbidden_address). */
export class ForbiddenAddressError extends BadRequestError {
  constructor (what: string, target: string, kind: AddressKind, mode: OutboundMode) {
    super(`${what} ${target} is ${describeKind(kind)} address, which outbound requests may not reach (outbound policy ${mode}; see HUB_OUTBOUND)`, { reason: FORBIDDEN_ADDRESS, addressKind: kind, outboundMode: mode })
  }
}

/**
 * The kind of the host of a parsed URL when the URL names it directly (an
 * IP literal, or `localhost`), else undefined (a name, known only once
 * resolved).
 */
export function literalKind (url: URL): AddressKind | undefined {
  if (isLocalhostName(url.hostname)) return 'loopback'
  return classifyAddress(url.hostname)
}

/**
 * Refuse (`bad_request`, reason forbidden_address) an http(s) URL whose
 * host is an address literal, or localhost, that the policy does not let
 * outbound requests reach — the check for URLs written into records
 * (service endpoints) before anyone fetches them. Host names are not
 * resolved here: they are checked when they are connected to.
 */
export function checkOutboundLiteral (url: URL, what = 'URL'): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return
  const kind = literalKind(url)
  const mode = outboundMode()
  if (kind !== undefined && !addressAllowed(kind, mode)) throw new ForbiddenAddressError(what, url.origin, kind, mode)
}

export interface OutboundReasons {
  /** A malformed or credential-carrying URL. */
  bad: string
  /** Not HTTPS (and not HTTP to loopback). */
  insecure: string
}

/**
 * Parse `raw` and refuse it (`bad_request`) unless it is HTTPS, or HTTP to
 * loopback (any host with `allowHttp`), without user info, and its host,
 * when an address literal or localhost, is one the policy allows. `what`
 * names the URL in messages ("status list URL", …); `reasons` are the
 * `details.reason` of a malformed or credential-carrying URL (`bad`) and of
 * a non-HTTPS one (`insecure`); a refused address is always
 * `forbidden_address`. Host names are checked when connected to
 * ({@link outboundFetch}).
 */
export function checkOutboundUrl (raw: string | URL, what = 'URL', reasons: OutboundReasons = { bad: 'bad_url', insecure: 'insecure_url' }, opts: { allowHttp?: boolean } = {}): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new BadRequestError(`${what} ${String(raw)} is not an absolute URL`, { reason: reasons.bad })
  }
  if (url.username !== '' || url.password !== '') throw new BadRequestError(`a ${what} must not carry credentials`, { reason: reasons.bad })
  const kind = literalKind(url)
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && (opts.allowHttp === true || kind === 'loopback'))
  if (!secure) throw new BadRequestError(`${what} ${url.origin} must use HTTPS (plain HTTP only to loopback)`, { reason: reasons.insecure })
  checkOutboundLiteral(url, what)
  return url
}
