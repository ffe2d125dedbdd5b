/** The outbound connection seam (`#platform/outbound`) in a browser: the page's fetch (identity/outbound-fetch-web.ts). */
export { createOutboundFetch, outboundFetch, setOutboundLookup, type HostLookup, type OutboundFetchOptions } from '../identity/outbound-fetch-web.js'
