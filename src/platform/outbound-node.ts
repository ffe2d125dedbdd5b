/** The outbound connection seam (`#platform/outbound`) under Node: node:http(s) with vetted DNS answers (identity/outbound-fetch.ts). */
export { createOutboundFetch, outboundFetch, setOutboundLookup, type HostLookup, type OutboundFetchOptions } from '../identity/outbound-fetch.js'
