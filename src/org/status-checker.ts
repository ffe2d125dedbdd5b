/**
 * Checking held credentials against their issuers' status lists before
 * presenting them (the I/O half of `status-list.ts`).
 *
 * For each `revocation`/`suspension` entry of a credential, the list
 * credential at `statusListCredential` is fetched, verified and read:
 *  - fetched under the outbound policy (identity/outbound.ts; the fetch is
 *    injectable): HTTPS, or plain HTTP for loopback hosts only — the same
 *    rule as the did:web resolver; only to addresses the policy allows; no
 *    redirects (a redirect could leave HTTPS or the host the issuer named);
 *    a timeout; a response size cap;
 *  - it must be a JWT VC (compact JWS, or a VCDM 2.0
 *    `EnvelopedVerifiableCredential` wrapping one) whose signature verifies
 *    against its issuer's DID document (`verifyDidJwt`), and whose issuer is
 *    the checked credential's issuer. A JSON-LD credential with a
 *    data-integrity proof cannot be verified here and counts as unverifiable;
 *  - it must be within its validity period when used (not just when fetched).
 *
 * **Fail closed.** A credential whose status cannot be established (list
 * unreachable, unsigned, signed by someone else, expired, malformed, index
 * out of range) is left out of the presentation, with a warning in the log:
 * presenting a credential its issuer may have revoked would make the holder
 * assert something it cannot stand behind, and the verifier would likely
 * refuse it anyway, while leaving it out costs only that one credential.
 * Credentials without a `credentialStatus`, or whose entries are of a type
 * we do not know, are presented unchanged (the verifier checks what we
 * cannot).
 *
 * Lists are cached per URL: successes for `ttlMs` (or the list's own `ttl`
 * when shorter), failures for the shorter `failureTtlMs` so that a list
 * server that is down is not hit on every query yet recovers quickly.
 * Concurrent lookups of one URL share a single fetch. The cache is bounded
 * by entry count and by the total size of the bitstrings it holds.
 */
import { HubError, toHubError, type ErrorCode } from '../errors.js'
import type { DidDocument } from '../identity/did-key.js'
import { checkOutboundUrl, outboundFetch, readCapped } from '../identity/outbound.js'
import { silentLogger, type Logger } from '../log.js'
import { decodeJwt, verifyDidJwt } from './jwt.js'
import { entryIsSet, MAX_BITSTRING_BYTES, parseStatusListPayload, statusEntries, type StatusEntry, type StatusList } from './status-list.js'
import { isValidAt, parseVcJwt, type ParsedCredential } from './vc.js'

/** Why a credential is not presentable. */
export type StatusRejection = 'revoked' | 'suspended' | 'unverifiable'

export type StatusVerdict =
  | { presentable: true }
  | {
    presentable: false
    reason: StatusRejection
    /** Human-readable; for logs. */
    detail: string
    /** The hub error code behind an `unverifiable` verdict. */
    code?: ErrorCode
    statusListCredential?: string
  }

/** The part of a credential the checker reads. */
export type StatusCheckable = Pick<ParsedCredential, 'id' | 'issuer' | 'credentialStatus'>

/** What the presentation query needs: keep the credentials that may be presented. */
export interface CredentialStatusFilter {
  presentable: <T extends StatusCheckable>(creds: readonly T[]) => Promise<T[]>
}

export interface StatusListCheckerOptions {
  /** DID → document, e.g. `hub.resolveDocument` (answers DIDs this hub hosts locally). */
  resolveDocument: (did: string) => Promise<DidDocument>
  /** Injected for tests and embedding; defaults to the outbound policy's fetch (connects only to allowed addresses). */
  fetch?: typeof fetch
  /** Milliseconds since the epoch; drives the cache and the list's validity check. */
  now?: () => number
  logger?: Logger
  /** How long a verified list is reused. Default 5 minutes. */
  ttlMs?: number
  /** How long a failed fetch or verification is remembered. Default 30 s (never longer than ttlMs). */
  failureTtlMs?: number
  /** Most lists cached. Default 256. */
  maxEntries?: number
  /** Most bitstring bytes cached in total. Default 64 MiB. */
  maxCachedBytes?: number
  /** Milliseconds before a fetch (headers and body) is abandoned. Default 5000. */
  timeoutMs?: number
  /** Largest response body read. Default 2 MiB. */
  maxResponseBytes?: number
  /** Largest uncompressed bitstring. Default {@link MAX_BITSTRING_BYTES}. */
  maxBitstringBytes?: number
}

export const DEFAULT_STATUS_LIST_TTL_MS = 5 * 60_000
const DEFAULT_FAILURE_TTL_MS = 30_000
const DEFAULT_MAX_ENTRIES = 256
const DEFAULT_MAX_CACHED_BYTES = 64 * 1024 * 1024
const DEFAULT_TIMEOUT_MS = 5000
export const MAX_STATUS_LIST_RESPONSE_BYTES = 2 * 1024 * 1024

/** A fetched and verified list credential. */
interface VerifiedList {
  issuer: string
  issuanceDate?: string
  expirationDate?: string
  list: StatusList
}

type Loaded = { ok: true, value: VerifiedList } | { ok: false, error: HubError }

interface CacheEntry {
  /** Infinity while the fetch is in flight. */
  expiresAt: number
  /** Bitstring bytes held. */
  weight: number
  value: Promise<Loaded>
}

const ACCEPT = 'application/vc+jwt, application/jwt, application/vc, application/json;q=0.5, */*;q=0.1'

function unavailable (message: string, cause?: unknown): HubError {
  return new HubError('unavailable', message, undefined, cause === undefined ? undefined : { cause })
}

/**
 * The JWT in a response body: a compact JWS as is, or the one inside a VCDM
 * 2.0 `EnvelopedVerifiableCredential` (`id: data:application/vc+jwt,<jwt>`).
 */
function jwtFromBody (text: string): string {
  const body = text.trim()
  if (!body.startsWith('{')) return body
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    throw new HubError('bad_request', 'the status list response is neither a JWT nor JSON')
  }
  const o = typeof json === 'object' && json !== null && !Array.isArray(json) ? json as Record<string, unknown> : {}
  const types = Array.isArray(o.type) ? o.type : [o.type]
  if (types.includes('EnvelopedVerifiableCredential') && typeof o.id === 'string') {
    const m = /^data:application\/(?:vc\+jwt|jwt)(?:;[^,]*)?,(.+)$/.exec(o.id)
    if (m !== null) return m[1] as string
  }
  if (o.proof !== undefined) {
    throw new HubError('unsupported', 'the status list credential is secured with an embedded (data-integrity) proof, which this hub cannot verify; only JWT VCs are accepted')
  }
  throw new HubError('unsupported', 'the status list credential carries no signature; only JWT VCs are accepted')
}

function sameUrl (a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href
  } catch {
    return false
  }
}

export class StatusListChecker implements CredentialStatusFilter {
  readonly #resolveDocument: (did: string) => Promise<DidDocument>
  readonly #fetch: typeof fetch
  readonly #now: () => number
  readonly #log: Logger
  readonly #ttlMs: number
  readonly #failureTtlMs: number
  readonly #maxEntries: number
  readonly #maxCachedBytes: number
  readonly #timeoutMs: number
  readonly #maxResponseBytes: number
  readonly #maxBitstringBytes: number
  /** Insertion order = least recently used first. */
  readonly #cache = new Map<string, CacheEntry>()

  constructor (opts: StatusListCheckerOptions) {
    this.#resolveDocument = opts.resolveDocument
    this.#fetch = opts.fetch ?? outboundFetch
    this.#now = opts.now ?? Date.now
    this.#log = opts.logger ?? silentLogger
    this.#ttlMs = opts.ttlMs ?? DEFAULT_STATUS_LIST_TTL_MS
    this.#failureTtlMs = Math.min(opts.failureTtlMs ?? DEFAULT_FAILURE_TTL_MS, this.#ttlMs)
    this.#maxEntries = Math.max(1, opts.maxEntries ?? DEFAULT_MAX_ENTRIES)
    this.#maxCachedBytes = opts.maxCachedBytes ?? DEFAULT_MAX_CACHED_BYTES
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#maxResponseBytes = opts.maxResponseBytes ?? MAX_STATUS_LIST_RESPONSE_BYTES
    this.#maxBitstringBytes = opts.maxBitstringBytes ?? MAX_BITSTRING_BYTES
  }

  /** Number of lists cached (in flight included); for tests and diagnostics. */
  get cacheSize (): number {
    return this.#cache.size
  }

  /** Forget every cached list. */
  clear (): void {
    this.#cache.clear()
  }

  /**
   * The credentials that may be presented, in their original order. Never
   * throws: a failure inside a check makes that one credential
   * unverifiable. Every rejection is logged with its reason (revocations
   * and suspensions at info, unverifiable statuses at warn).
   */
  async presentable<T extends StatusCheckable> (creds: readonly T[]): Promise<T[]> {
    const verdicts = await Promise.all(creds.map(async c => await this.check(c)))
    return creds.filter((c, i) => {
      const v = verdicts[i] as StatusVerdict
      if (v.presentable) return true
      const fields = {
        credentialId: c.id,
        issuer: c.issuer,
        reason: v.reason,
        detail: v.detail,
        ...(v.code !== undefined ? { code: v.code } : {}),
        ...(v.statusListCredential !== undefined ? { statusListCredential: v.statusListCredential } : {})
      }
      if (v.reason === 'unverifiable') this.#log.warn('credential left out of the presentation: its status cannot be verified', fields)
      else this.#log.info(`credential left out of the presentation: ${v.reason} by its issuer`, fields)
      return false
    })
  }

  /**
   * The verdict for one credential. Every blocking entry must be clear;
   * when several are not, revoked wins over suspended over unverifiable
   * (the most definite answer is the one worth reporting).
   */
  async check (cred: StatusCheckable): Promise<StatusVerdict> {
    try {
      const { entries, ignored } = statusEntries(cred.credentialStatus)
      for (const i of ignored) {
        this.#log.debug('credentialStatus entry not checked', { credentialId: cred.id, type: i.type, purpose: i.purpose, why: i.why })
      }
      if (entries.length === 0) return { presentable: true }
      const verdicts = await Promise.all(entries.map(async e => await this.#checkEntry(cred, e)))
      for (const reason of ['revoked', 'suspended', 'unverifiable'] as const) {
        const v = verdicts.find(v => !v.presentable && v.reason === reason)
        if (v !== undefined) return v
      }
      return { presentable: true }
    } catch (err) {
      const e = toHubError(err)
      return { presentable: false, reason: 'unverifiable', detail: `credentialStatus: ${e.message}`, code: e.code }
    }
  }

  async #checkEntry (cred: StatusCheckable, entry: StatusEntry): Promise<StatusVerdict> {
    const url = entry.listUrl
    const unverifiable = (detail: string, code: ErrorCode): StatusVerdict =>
      ({ presentable: false, reason: 'unverifiable', detail, code, statusListCredential: url })
    const loaded = await this.#list(url)
    if (!loaded.ok) return unverifiable(loaded.error.message, loaded.error.code)
    const v = loaded.value
    // The list is verified as *some* issuer's; it only speaks for credentials of that same issuer.
    if (v.issuer !== cred.issuer) return unverifiable(`the status list is issued by ${v.issuer}, not by the credential's issuer ${cred.issuer}`, 'authentication_failed')
    // Checked at use, not at fetch: a cached list may expire while cached.
    const validity = isValidAt(v, this.#now())
    if (validity !== 'valid') return unverifiable(`the status list credential is ${validity === 'expired' ? 'expired' : 'not yet valid'}`, 'authentication_failed')
    let set: boolean
    try {
      set = entryIsSet(entry, v.list)
    } catch (err) {
      const e = toHubError(err)
      return unverifiable(e.message, e.code)
    }
    if (!set) return { presentable: true }
    return {
      presentable: false,
      reason: entry.purpose === 'revocation' ? 'revoked' : 'suspended',
      detail: `bit ${entry.index} is set in the ${entry.purpose} list`,
      statusListCredential: url
    }
  }

  /** The list at `url`, from the cache or freshly loaded. Never rejects. */
  async #list (url: string): Promise<Loaded> {
    const hit = this.#cache.get(url)
    if (hit !== undefined) {
      this.#cache.delete(url)
      if (hit.expiresAt > this.#now()) {
        this.#cache.set(url, hit) // most recently used
        return await hit.value
      }
    }
    const entry: CacheEntry = { expiresAt: Infinity, weight: 0, value: this.#load(url) }
    this.#cache.set(url, entry)
    this.#evict()
    const loaded = await entry.value
    if (this.#cache.get(url) === entry && entry.expiresAt === Infinity) {
      const ttl = loaded.ok ? Math.min(this.#ttlMs, loaded.value.list.ttlMs ?? Infinity) : this.#failureTtlMs
      entry.expiresAt = this.#now() + ttl
      entry.weight = loaded.ok ? loaded.value.list.bits.byteLength : 0
      this.#evict()
    }
    return loaded
  }

  /** Drop least recently used lists until both bounds hold. */
  #evict (): void {
    let bytes = 0
    for (const e of this.#cache.values()) bytes += e.weight
    for (const [url, e] of this.#cache) {
      if (this.#cache.size <= this.#maxEntries && bytes <= this.#maxCachedBytes) break
      this.#cache.delete(url)
      bytes -= e.weight
    }
  }

  async #load (url: string): Promise<Loaded> {
    try {
      return { ok: true, value: await this.#fetchAndVerify(url) }
    } catch (err) {
      return { ok: false, error: toHubError(err) }
    }
  }

  async #fetchAndVerify (url: string): Promise<VerifiedList> {
    checkOutboundUrl(url, 'status list URL')
    let res: Response
    let body: Uint8Array
    try {
      res = await this.#fetch(url, {
        signal: AbortSignal.timeout(this.#timeoutMs),
        redirect: 'error',
        headers: { accept: ACCEPT }
      })
      if (!res.ok) {
        await res.body?.cancel().catch(() => {})
        throw unavailable(`fetching the status list returned HTTP ${res.status}`)
      }
      body = await readCapped(res, this.#maxResponseBytes, 'the status list response')
    } catch (err) {
      if (err instanceof HubError) throw err
      throw unavailable(`cannot fetch the status list: ${(err as Error).message}`, err)
    }
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body)
    } catch {
      throw new HubError('bad_request', 'the status list response is not UTF-8 text')
    }
    const jwt = jwtFromBody(text)
    // A status list is a credential: its issuer signs it with an assertion key.
    const verified = await verifyDidJwt(jwt, this.#resolveDocument, { purpose: 'assertionMethod' })
    const vc = parseVcJwt(jwt)
    // verifyDidJwt ties `iss` to the signing key's DID when `iss` is present; a VCDM 2.0
    // JWT may name its issuer only in `issuer`, so tie that one too.
    if (vc.issuer !== verified.did) {
      throw new HubError('authentication_failed', `the status list credential names issuer ${vc.issuer} but is signed by ${verified.did}`)
    }
    const list = parseStatusListPayload(decodeJwt(jwt).payload, this.#maxBitstringBytes)
    // A list that names its own URL must be the one asked for: otherwise a server could
    // answer with another (e.g. all-clear) list the same issuer signed.
    if (list.id !== undefined && /^https?:/i.test(list.id) && !sameUrl(list.id, url)) {
      throw new HubError('authentication_failed', `the status list credential is ${list.id}, not ${url}`)
    }
    const out: VerifiedList = { issuer: vc.issuer, list }
    if (vc.issuanceDate !== undefined) out.issuanceDate = vc.issuanceDate
    if (vc.expirationDate !== undefined) out.expirationDate = vc.expirationDate
    return out
  }
}
