/**
 * The dashboard's login model (docs/dashboard.md): one-time login links and
 * the sessions they open, both held in the daemon's memory only — a restart
 * (or a stop) ends every session and voids every unused link.
 *
 * - A login token is 256 random bits, shown once (the link `hub dashboard`
 *   prints); only its SHA-256 is kept. It is good for one redemption within
 *   LOGIN_TOKEN_TTL_MS.
 * - A session is another 256-bit secret (the cookie; kept hashed too) with
 *   its own CSRF token, an absolute lifetime (SESSION_MAX_MS) and an idle
 *   limit (SESSION_IDLE_MS).
 * - Lookups compare hashes of fixed length in constant time, so neither a
 *   token's nor a cookie's timing says how much of it was right.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { AuthenticationError } from '../../errors.js'

export const LOGIN_TOKEN_TTL_MS = 5 * 60_000
export const SESSION_MAX_MS = 12 * 3600_000
export const SESSION_IDLE_MS = 30 * 60_000
/** Unused links and sessions kept at most (oldest dropped first): a flood of `hub dashboard` cannot grow memory. */
export const MAX_PENDING_LOGINS = 64
export const MAX_SESSIONS = 64

export interface Session {
  /** sha256 of the cookie value, hex: the session's id in this table and in SSE bookkeeping. */
  readonly id: string
  readonly csrf: string
  readonly createdAt: number
  lastSeen: number
}

export interface SessionsInit {
  /** Wall clock, ms (tests move it). Default Date.now. */
  now?: () => number
  loginTtlMs?: number
  maxAgeMs?: number
  idleMs?: number
}

const secret = (): string => randomBytes(32).toString('base64url')
const hash = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

/** 401 with a stable `details.reason` (no_session, session_expired, bad_login_token, bad_csrf, cross_site). */
export function refused (reason: string, message: string): AuthenticationError {
  return new AuthenticationError(message, { reason })
}

export class Sessions {
  readonly #now: () => number
  readonly #loginTtl: number
  readonly #maxAge: number
  readonly #idle: number
  /** hex(sha256(token)) → expiry. */
  readonly #logins = new Map<string, number>()
  /** hex(sha256(cookie)) → session. */
  readonly #sessions = new Map<string, Session>()
  readonly #ended = new Set<(id: string) => void>()

  constructor (init: SessionsInit = {}) {
    this.#now = init.now ?? Date.now
    this.#loginTtl = init.loginTtlMs ?? LOGIN_TOKEN_TTL_MS
    this.#maxAge = init.maxAgeMs ?? SESSION_MAX_MS
    this.#idle = init.idleMs ?? SESSION_IDLE_MS
  }

  get maxAgeMs (): number { return this.#maxAge }

  /** A new one-time login token (the secret itself: the caller shows it once) and when it expires. */
  issueLogin (): { token: string, expiresAt: number } {
    this.#sweep()
    const token = secret()
    const expiresAt = this.#now() + this.#loginTtl
    this.#logins.set(hash(token).toString('hex'), expiresAt)
    while (this.#logins.size > MAX_PENDING_LOGINS) this.#logins.delete(this.#logins.keys().next().value as string)
    return { token, expiresAt }
  }

  /**
   * Redeem a login token: a new session and its cookie value, or a 401
   * `bad_login_token` (unknown, expired or already used — the same answer,
   * so a caller learns nothing about which). The token is gone either way.
   */
  redeem (token: string): { cookie: string, session: Session } {
    const key = this.#findLogin(token)
    if (key === undefined) throw refused('bad_login_token', 'this login link is wrong, expired or already used: run "hub dashboard" for a new one')
    const expiresAt = this.#logins.get(key) as number
    this.#logins.delete(key)
    if (this.#now() >= expiresAt) throw refused('bad_login_token', 'this login link is wrong, expired or already used: run "hub dashboard" for a new one')
    const cookie = secret()
    const now = this.#now()
    const session: Session = { id: hash(cookie).toString('hex'), csrf: secret(), createdAt: now, lastSeen: now }
    this.#sessions.set(session.id, session)
    while (this.#sessions.size > MAX_SESSIONS) this.#end(this.#sessions.keys().next().value as string)
    return { cookie, session }
  }

  /** The live session of a cookie value (touching it), or a 401 `no_session` / `session_expired`. */
  authenticate (cookie: string | undefined): Session {
    if (cookie === undefined || cookie === '') throw refused('no_session', 'log in first: run "hub dashboard" and open the link it prints')
    const id = hash(cookie).toString('hex')
    const s = this.#sessions.get(id)
    if (s === undefined) throw refused('no_session', 'no such session (the daemon restarted, or you logged out): run "hub dashboard" for a new link')
    const now = this.#now()
    if (now - s.createdAt >= this.#maxAge || now - s.lastSeen >= this.#idle) {
      this.#end(id)
      throw refused('session_expired', 'the session expired: run "hub dashboard" for a new link')
    }
    s.lastSeen = now
    return s
  }

  /** The CSRF check: the header must equal the session's token (constant time), else 401 `bad_csrf`. */
  checkCsrf (session: Session, header: string | undefined): void {
    if (header === undefined) throw refused('bad_csrf', 'a state-changing call needs the x-csrf-token header of this session')
    const a = hash(header)
    const b = hash(session.csrf)
    if (!timingSafeEqual(a, b)) throw refused('bad_csrf', 'the x-csrf-token header does not belong to this session')
  }

  /** End a session (logout). */
  logout (id: string): void {
    this.#end(id)
  }

  /** Called with a session's id when it ends (logout, expiry, eviction, close): live event streams close. */
  onEnd (fn: (id: string) => void): () => void {
    this.#ended.add(fn)
    return () => { this.#ended.delete(fn) }
  }

  /** End everything (the server stops). */
  close (): void {
    for (const id of [...this.#sessions.keys()]) this.#end(id)
    this.#logins.clear()
  }

  get size (): number { return this.#sessions.size }

  #findLogin (token: string): string | undefined {
    const h = hash(token)
    let found: string | undefined
    // Every pending entry is compared, in constant time each: no early exit on a match.
    for (const key of this.#logins.keys()) {
      if (timingSafeEqual(h, Buffer.from(key, 'hex'))) found = key
    }
    return found
  }

  #end (id: string): void {
    if (!this.#sessions.delete(id)) return
    for (const fn of this.#ended) fn(id)
  }

  #sweep (): void {
    const now = this.#now()
    for (const [k, exp] of this.#logins) if (now >= exp) this.#logins.delete(k)
    for (const [id, s] of this.#sessions) if (now - s.createdAt >= this.#maxAge || now - s.lastSeen >= this.#idle) this.#end(id)
  }
}
