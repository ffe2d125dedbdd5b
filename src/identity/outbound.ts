/**
 * The one rule for every request the hub makes to a URL that someone else
 * chose (did:web documents, issuers' status lists, DCP service endpoints):
 *
 *  - HTTPS, except plain HTTP to a loopback host (a loopback connection
 *    cannot be intercepted off-machine, and it is what local dataspaces and
 *    tests use); no credentials in the URL; no redirects followed;
 *  - the address connected to is allowed by the outbound policy
 *    ({@link outboundMode}): every address the host name resolves to is
 *    classified ({@link classifyAddress}), IPv4-mapped, -compatible, NAT64
 *    and 6to4 IPv6 forms by the IPv4 address inside them, and the
 *    connection is made to one of exactly those checked addresses (the
 *    lookup that vets them is the lookup the socket uses, so a DNS answer
 *    that changes between check and connect cannot slip through);
 *  - answers read up to a cap, counting the bytes that actually arrive (a
 *    declared length may lie or be absent).
 *
 * The policy has three modes (`HUB_OUTBOUND`):
 *
 *  - `deny`: public addresses only;
 *  - `loopback`: public and loopback addresses (the default while the hub's
 *    HTTP server listens on loopback only, or not at all);
 *  - `private`: also private networks (10/8, 172.16/12, 192.168/16,
 *    100.64/10, fc00::/7), for a hub inside an internal network.
 *
 * Never allowed in any mode: link-local addresses (169.254/16, fe80::/10 —
 * cloud metadata services live there) and the known metadata addresses,
 * unspecified (0.0.0.0, ::), multicast, broadcast and reserved ranges.
 * When a daemon's HTTP server listens beyond loopback the default becomes
 * `deny` ({@link restrictOutboundFor}) unless the operator chose a mode
 * (`HUB_OUTBOUND`, or the older `HUB_OUTBOUND_LOOPBACK=deny|allow`).
 */
// The rule is split by job: outbound-address.ts (pure address
// classification), outbound-policy.ts (modes and URL checks) and
// outbound-fetch.ts (the vetted connection and capped reads). This module
// keeps the one import path every caller uses.
export {
  classifyAddress, embeddedIPv4, isLoopbackHost, parseIPv4, parseIPv6, type AddressKind
} from './outbound-address.js'
export {
  FORBIDDEN_ADDRESS, ForbiddenAddressError, OUTBOUND_MODES, addressAllowed, checkOutboundEnv, checkOutboundLiteral,
  checkOutboundUrl, chosenOutboundMode, loopbackAllowed, outboundMode, restrictOutboundFor,
  type OutboundMode, type OutboundReasons
} from './outbound-policy.js'
// The connection is a seam (#outbound-fetch, package.json "imports"): node:http with
// vetted DNS answers under Node (outbound-fetch.ts), the page's fetch in a
// browser (outbound-fetch-web.ts), where DNS answers cannot be seen.
export {
  createOutboundFetch, outboundFetch, setOutboundLookup, type HostLookup, type OutboundFetchOptions
} from '#outbound-fetch'
export { readCapped } from './outbound-read.js'
