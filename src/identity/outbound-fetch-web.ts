/**
 * The connection half of the outbound rule (outbound.ts) in a browser: the
 * page's own `fetch`, after the same URL checks as under Node (HTTPS, or
 * plain HTTP to loopback; no credentials in the URL; address literals and
 * `localhost` vetted against the policy) and with redirects refused.
 *
 * What a page cannot do: see the addresses a host name resolves to. The
 * browser resolves and connects inside `fetch`, so the address-level
 * checks that the Node variant applies to every DNS answer (no private or
 * link-local address behind a public name) do not run here. A page is
 * already confined by the browser (CORS, Private Network Access for
 * public-to-private requests), and holds no credentials a forged answer
 * could leak: cookies are never sent (`credentials: 'omit'`).
 */
import { UnsupportedError } from '../errors.js'
import { checkOutboundUrl } from './outbound-policy.js'

/** Every address of a host name (the Node variant's lookup hook; a page has none). */
export type HostLookup = (hostname: string) => Promise<Array<{ address: string, family: number }>>

export interface OutboundFetchOptions {
  /** Plain HTTP to any host (the did:web resolver's `insecureHttp`). */
  allowInsecureHttp?: boolean
  /** Names the URL in refusals. Default "URL". */
  what?: string
}

/** A page resolves names inside `fetch`: replacing the lookup is refused, so nobody relies on vetting that cannot happen. */
export function setOutboundLookup (lookup: HostLookup | undefined): void {
  if (lookup !== undefined) throw new UnsupportedError('a browser resolves host names itself: outbound lookups cannot be replaced in a page', { reason: 'no_lookup_in_browser' })
}

/** See outbound-fetch.ts: the same checks before anything is sent, redirects never followed. */
export function createOutboundFetch (opts: OutboundFetchOptions = {}): typeof fetch {
  const what = opts.what ?? 'URL'
  return async (input, init = {}) => {
    if (typeof input !== 'string' && !(input instanceof URL)) throw new TypeError('outbound fetch takes a URL, not a Request')
    const url = checkOutboundUrl(input, what, undefined, { allowHttp: opts.allowInsecureHttp === true })
    if (init.body !== undefined && init.body !== null && typeof init.body !== 'string' && !(init.body instanceof Uint8Array)) {
      throw new TypeError('outbound fetch sends only string or byte bodies')
    }
    // 'manual' gives the caller an opaque redirect (status 0), never the target; anything else fails on a redirect.
    const redirect: RequestRedirect = init.redirect === 'manual' ? 'manual' : 'error'
    return await globalThis.fetch(url, { ...init, redirect, credentials: 'omit' })
  }
}

/** {@link createOutboundFetch} with the defaults. */
export const outboundFetch: typeof fetch = createOutboundFetch()
