/**
 * Address classification for the outbound policy (outbound.ts): what an IP
 * address is (public, loopback, private, link-local, metadata, …) in any
 * spelling a socket would accept, and whether a URL host is loopback. Pure
 * functions, no I/O and no policy: the mode that decides which kinds may be
 * reached lives in outbound-policy.ts.
 */

/**
 * What an IP address is, as far as outbound requests care. `private`
 * covers RFC 1918, CGNAT (100.64/10) and the deprecated IPv6 site-local
 * fec0::/10; `metadata` the cloud instance-metadata addresses (which would
 * otherwise count as link-local, private or unique-local); `reserved`
 * everything that is no destination on the internet (documentation and
 * benchmarking ranges, 0/8, 240/4, unallocated IPv6 outside 2000::/3).
 */
export type AddressKind =
  | 'public'
  | 'loopback'
  | 'private'
  | 'unique-local'
  | 'link-local'
  | 'metadata'
  | 'unspecified'
  | 'multicast'
  | 'broadcast'
  | 'reserved'

/** [network, prefix length, kind]; the first match wins, so more specific entries come first. */
type Range = [number[], number, AddressKind]

const V4_RANGES: Range[] = [
  [[169, 254, 169, 254], 32, 'metadata'], // AWS, GCP, Azure, OpenStack, …
  [[169, 254, 170, 2], 32, 'metadata'], // AWS ECS task metadata
  [[100, 100, 100, 200], 32, 'metadata'], // Alibaba Cloud
  [[255, 255, 255, 255], 32, 'broadcast'],
  [[0, 0, 0, 0], 32, 'unspecified'],
  [[0, 0, 0, 0], 8, 'reserved'],
  [[127, 0, 0, 0], 8, 'loopback'],
  [[10, 0, 0, 0], 8, 'private'],
  [[172, 16, 0, 0], 12, 'private'],
  [[192, 168, 0, 0], 16, 'private'],
  [[100, 64, 0, 0], 10, 'private'],
  [[169, 254, 0, 0], 16, 'link-local'],
  [[192, 0, 0, 0], 24, 'reserved'],
  [[192, 0, 2, 0], 24, 'reserved'],
  [[192, 88, 99, 0], 24, 'reserved'],
  [[198, 18, 0, 0], 15, 'reserved'],
  [[198, 51, 100, 0], 24, 'reserved'],
  [[203, 0, 113, 0], 24, 'reserved'],
  [[224, 0, 0, 0], 4, 'multicast'],
  [[240, 0, 0, 0], 4, 'reserved']
]

const V6_RANGES: Range[] = [
  [[0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54], 128, 'metadata'], // fd00:ec2::254 (AWS)
  [[0xfe, 0x80], 10, 'link-local'],
  [[0xfe, 0xc0], 10, 'private'],
  [[0xfc], 7, 'unique-local'],
  [[0xff], 8, 'multicast'],
  [[0x01, 0x00, 0, 0, 0, 0, 0, 0], 64, 'reserved'], // 100::/64 discard
  [[0x20, 0x01, 0x0d, 0xb8], 32, 'reserved'], // documentation
  [[0x20], 3, 'public']
]

function inRange (bytes: readonly number[], net: readonly number[], bits: number): boolean {
  for (let i = 0; i < bits; i += 8) {
    const mask = bits - i >= 8 ? 0xff : (0xff << (8 - (bits - i))) & 0xff
    if (((bytes[i / 8] ?? 0) & mask) !== ((net[i / 8] ?? 0) & mask)) return false
  }
  return true
}

function kindOf (bytes: readonly number[], ranges: Range[], fallback: AddressKind): AddressKind {
  for (const [net, bits, kind] of ranges) if (inRange(bytes, net, bits)) return kind
  return fallback
}

/**
 * An IPv4 address in any spelling `inet_aton` accepts: one to four parts,
 * each decimal, octal (leading 0) or hex (0x), the last filling the
 * remaining bytes (`127.1`, `2130706433`, `0x7f.0.0.1`, `0177.0.0.1`).
 * WHATWG URL parsing already turns these into dotted quads for http(s)
 * URLs; this is the fallback for anything that did not go through it.
 */
export function parseIPv4 (s: string): number[] | undefined {
  const parts = s.split('.')
  if (parts.length > 4 || parts.some(p => p === '')) return undefined
  const nums: number[] = []
  for (const p of parts) {
    if (!/^(0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)$/i.test(p)) return undefined
    const n = /^0x/i.test(p) ? (p.length === 2 ? 0 : parseInt(p.slice(2), 16)) : p.length > 1 && p.startsWith('0') ? parseInt(p, 8) : Number(p)
    if (!Number.isSafeInteger(n)) return undefined
    nums.push(n)
  }
  const last = nums.pop() as number
  if (nums.some(n => n > 255) || last >= 2 ** (8 * (4 - nums.length))) return undefined
  const out = [...nums]
  for (let i = 3 - nums.length; i >= 0; i--) out.push(Math.floor(last / 2 ** (8 * i)) % 256)
  return out
}

const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
const HEX_GROUP = /^[0-9a-f]{1,4}$/i

/**
 * Whether `a` is an IPv6 address in text form (RFC 4291: eight groups, one
 * `::`, an optional dotted quad last) — what node:net's isIPv6 accepts
 * without a zone id, written out so the policy runs in a browser too
 * (test/isomorphic.test.ts compares the two).
 */
export function isIPv6Text (a: string): boolean {
  const halves = a.split('::')
  if (halves.length > 2) return false
  const groups = (part: string): string[] => part === '' ? [] : part.split(':')
  const head = groups(halves[0] as string)
  const tail = halves.length === 2 ? groups(halves[1] as string) : []
  const last = halves.length === 2 ? tail : head
  let words = 0
  for (const list of [head, tail]) {
    for (let i = 0; i < list.length; i++) {
      const g = list[i] as string
      if (list === last && i === list.length - 1 && g.includes('.')) {
        if (!DOTTED_QUAD.test(g)) return false
        words += 2
      } else if (HEX_GROUP.test(g)) {
        words += 1
      } else {
        return false
      }
    }
  }
  return halves.length === 2 ? words <= 7 : words === 8
}

/** The 16 bytes of an IPv6 address (zone id, brackets and an embedded dotted quad allowed), or undefined. */
export function parseIPv6 (s: string): number[] | undefined {
  const a = s.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '')
  if (!isIPv6Text(a)) return undefined
  const words = (part: string): number[] => {
    if (part === '') return []
    return part.split(':').flatMap(g => {
      if (!g.includes('.')) return [parseInt(g, 16)]
      const [w, x, y, z] = g.split('.').map(Number) as [number, number, number, number]
      return [(w << 8) | x, (y << 8) | z]
    })
  }
  const [head = '', tail] = a.split('::')
  const h = words(head)
  const t = tail === undefined ? [] : words(tail)
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t]
  return all.flatMap(w => [w >> 8, w & 0xff])
}

/**
 * The IPv4 address an IPv6 address stands for, if it is one of the forms
 * that carry one: IPv4-mapped `::ffff:a.b.c.d` (also written
 * `::ffff:7f00:1`), IPv4-translated `::ffff:0:a.b.c.d`, IPv4-compatible
 * `::a.b.c.d`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002::/16`.
 */
export function embeddedIPv4 (b: readonly number[]): number[] | undefined {
  const zero = (from: number, to: number): boolean => b.slice(from, to).every(x => x === 0)
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12)
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) return b.slice(12)
  if (zero(0, 12) && !zero(12, 15)) return b.slice(12) // ::a.b.c.d, not :: or ::1
  if (inRange(b, [0x00, 0x64, 0xff, 0x9b], 32) && zero(4, 12)) return b.slice(12)
  if (inRange(b, [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], 48)) return b.slice(12)
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6)
  return undefined
}

/**
 * The kind of an IP address (IPv4 in any inet_aton spelling, IPv6 with or
 * without brackets and zone id), or undefined if `address` is not one (a
 * host name).
 */
export function classifyAddress (address: string): AddressKind | undefined {
  const v6 = parseIPv6(address)
  if (v6 !== undefined) {
    if (v6.every(x => x === 0)) return 'unspecified'
    if (v6.slice(0, 15).every(x => x === 0) && v6[15] === 1) return 'loopback'
    const v4 = embeddedIPv4(v6)
    if (v4 !== undefined) return kindOf(v4, V4_RANGES, 'public')
    return kindOf(v6, V6_RANGES, 'reserved')
  }
  // (A valid dotted quad has only digits and dots, so this refuses host names only.)
  if (/[^0-9a-fx.]/i.test(address)) return undefined
  const v4 = parseIPv4(address)
  return v4 === undefined ? undefined : kindOf(v4, V4_RANGES, 'public')
}

/** `host` as in a URL's `host` (name or address, optional port, IPv6 in brackets), or a bare IPv6 address. */
function hostnameOf (host: string): string | undefined {
  if (isIPv6Text(host.replace(/%.*$/, ''))) return `[${host}]`
  try {
    return new URL(`http://${host}/`).hostname
  } catch {
    return undefined
  }
}

/** `localhost` and its subdomains (RFC 6761: always loopback). */
export function isLocalhostName (hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '')
  return h === 'localhost' || h.endsWith('.localhost')
}

/**
 * Whether `host` (a URL's `host`: name or address, optional port, IPv6 in
 * brackets; or a bare IPv6 address) is loopback: `localhost`, 127/8, ::1,
 * and the IPv6 forms of 127/8 (`[::ffff:127.0.0.1]`, …).
 */
export function isLoopbackHost (host: string): boolean {
  const h = hostnameOf(host)
  if (h === undefined) return false
  return isLocalhostName(h) || classifyAddress(h) === 'loopback'
}
