/**
 * Key layout of a tenant's partition. Pure functions: the whole on-disk
 * schema is readable here. Every key of tenant T starts with `t!<T>!`.
 *
 *   c!<commitId>                                  → envelope JSON
 *   o!<objectId>                                  → ObjectMeta JSON
 *   oc!<objectId>!<seq>                           → commitId   (per-object log)
 *   f!<seq>                                       → commitId   (change feed)
 *   s!<objectId>                                  → Automerge snapshot (cache)
 *   p!<objectId>                                  → ''         (Permissions objects, deleted ones too)
 *   w!<peer hub DID>                              → seq, or JSON {seq, tag?, echo?} (sync watermark: peer's feed position; sync 1.1's tag of the entry there and echo mark)
 *   g!<last seq>                                  → {n, from}  (feed entries last-n+1..last came from peer `from`: feed-origins.ts)
 *   r!<DID>!<commitId>                            → ''         (commits relying on a non-owner DID: signed, or accepted, by it)
 *   q!<commitId>                                  → ''         (quarantined: invalid since a revocation; kept, never served or materialized)
 *   m!<name>                                      → ''         (one-time migrations done)
 *   i!<iface>!<scope>!<c|u>!<timestamp>!<objectId> → ''        (sort indexes)
 *   x!<iface>!<type>!<field>!<value>!<objectId>     → ''        (field indexes)
 *   n!<iface>!<context>!<type>                      → ''        (the pairs objects occupy: collection-pairs.ts)
 *
 * `<scope>` is `*` (all), `B<context>!<type>` (both names), or `G<tag>` (a
 * blind hub's object of an encrypted collection, by its tag). A query by
 * neither name or by both, or by tag, is one range scan; a query by context
 * only or by type only merges the `B` ranges of the pairs `n!` lists for it
 * (query.ts). Every `i!` and `x!` key ends with `!<objectId>`.
 * Components are escaped so `!` never appears inside one.
 *
 * Stores written before `m!index-layout-v2` also held `C<context>` and
 * `T<type>` scopes (two more sort entries per object, created and updated;
 * four more writes per update): migrations.ts deletes them and writes `n!`.
 */
import type { CommitId, ObjectId } from '../ids.js'
import type { JsonPrimitive } from '../objects/json.js'
import { hex } from '../identity/encoding.js'

export function esc (s: string): string {
  return s.replace(/[%!\uffff]/g, c => c === '%' ? '%25' : c === '!' ? '%21' : '%EF%BF%BF')
}

export function seqKey (seq: number): string {
  return seq.toString().padStart(16, '0')
}

export class Layout {
  readonly p: string
  constructor (tenant: string) {
    this.p = `t!${esc(tenant)}!`
  }

  commit (id: CommitId): string { return `${this.p}c!${id}` }
  object (id: ObjectId): string { return `${this.p}o!${id}` }
  objectsPrefix (): string { return `${this.p}o!` }
  objectCommit (id: ObjectId, seq: number): string { return `${this.p}oc!${id}!${seqKey(seq)}` }
  objectCommitsPrefix (id: ObjectId): string { return `${this.p}oc!${id}!` }
  feed (seq: number): string { return `${this.p}f!${seqKey(seq)}` }
  feedPrefix (): string { return `${this.p}f!` }
  snapshot (id: ObjectId): string { return `${this.p}s!${id}` }
  snapshotsPrefix (): string { return `${this.p}s!` }
  indexPrefix (): string { return `${this.p}i!` }
  permission (id: ObjectId): string { return `${this.p}p!${id}` }
  permissionsPrefix (): string { return `${this.p}p!` }
  watermark (peer: string): string { return `${this.p}w!${esc(peer)}` }
  watermarksPrefix (): string { return `${this.p}w!` }
  origin (lastSeq: number): string { return `${this.p}g!${seqKey(lastSeq)}` }
  originsPrefix (): string { return `${this.p}g!` }
  fieldPrefixAll (): string { return `${this.p}x!` }
  relies (did: string, id: CommitId): string { return `${this.p}r!${esc(did)}!${id}` }
  reliesPrefix (did: string): string { return `${this.p}r!${esc(did)}!` }
  reliesPrefixAll (): string { return `${this.p}r!` }
  quarantined (id: CommitId): string { return `${this.p}q!${id}` }
  quarantinedPrefix (): string { return `${this.p}q!` }
  migration (name: string): string { return `${this.p}m!${esc(name)}` }

  pair (iface: string, context: string, type: string): string { return `${this.p}n!${iface}!${esc(context)}!${esc(type)}` }
  pairsPrefix (): string { return `${this.p}n!` }

  /** The pair a `n!` key names; undefined for a key that is not one (never written by this code). */
  parsePair (key: string): { iface: string, context: string, type: string } | undefined {
    const parts = key.slice(this.pairsPrefix().length).split('!')
    if (!key.startsWith(this.pairsPrefix()) || parts.length !== 3) return undefined
    try {
      return { iface: parts[0] as string, context: unesc(parts[1] as string), type: unesc(parts[2] as string) }
    } catch {
      return undefined
    }
  }

  sortPrefix (iface: string, scope: string, by: 'c' | 'u'): string {
    return `${this.p}i!${iface}!${scope}!${by}!`
  }

  fieldPrefix (iface: string, type: string, field: string): string {
    return `${this.p}x!${iface}!${esc(type)}!${esc(field)}!`
  }
}

/** The inverse of {@link esc}. Throws on a malformed escape. */
export function unesc (s: string): string {
  return decodeURIComponent(s)
}

/** The scope of the objects of one (context, type) pair. */
export function pairScope (context: string, type: string): string {
  return `B${esc(context)}!${esc(type)}`
}

/** The scopes an object is indexed under: all, and its pair. */
export function scopesOf (context: string, type: string): string[] {
  return ['*', pairScope(context, type)]
}

/** Longest string value kept in a field index; longer ones are indexed by prefix. */
export const INDEXED_STRING_MAX = 128

/**
 * Order-preserving encoding of a JSON scalar: null < false < true < numbers
 * < strings, numbers in numeric order, strings in UTF-8 byte order. Every
 * character of the output is above the `!` separator, so a shorter value
 * sorts before its extensions. Truncating strings keeps the encoding
 * monotone, so range scans return a superset the query then filters exactly.
 */
export function encodeIndexValue (v: JsonPrimitive): string {
  if (v === null) return 'a'
  if (v === false) return 'b'
  if (v === true) return 'c'
  if (typeof v === 'number') return `n${sortableNumber(v)}`
  return `s${orderedEscape(v.slice(0, INDEXED_STRING_MAX))}`
}

/**
 * Characters up to `"` (0x22) become `"` followed by the character shifted
 * up by 0x23: the escape prefix sorts below every unescaped character, the
 * shifted ones keep their relative order, and nothing at or below `!`
 * remains. (Lone surrogates become U+FFFD when the key is UTF-8 encoded,
 * both here and wherever values are compared, so the order stays consistent.)
 */
function orderedEscape (s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
  return s.replace(/[\u0000-\u0022]/g, (c: string) => `"${String.fromCharCode(c.charCodeAt(0) + 0x23)}`)
}

/** One 8-byte scratch buffer: index keys are built synchronously, one at a time. */
const NUMBER_BYTES = new Uint8Array(8)
const NUMBER_VIEW = new DataView(NUMBER_BYTES.buffer)

function sortableNumber (n: number): string {
  const buf = NUMBER_BYTES
  NUMBER_VIEW.setFloat64(0, n === 0 ? 0 : n) // big-endian; fold -0 into 0
  const first = buf[0] as number
  if ((first & 0x80) !== 0) {
    for (let i = 0; i < 8; i++) buf[i] = ~(buf[i] as number) & 0xff
  } else {
    buf[0] = first | 0x80
  }
  return hex(buf)
}

export function isIndexable (v: unknown): v is JsonPrimitive {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
}
