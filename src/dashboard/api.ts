/**
 * The page's calls to /dashboard/api: the session cookie goes by itself
 * (same origin); state-changing calls add the session's CSRF token, read
 * once from /dashboard/api/session. Errors come back as ApiError with the
 * server's stable code and reason.
 */
export class ApiError extends Error {
  readonly code: string
  readonly reason: string | undefined
  readonly status: number
  constructor (status: number, code: string, message: string, reason?: string) {
    super(message)
    this.status = status
    this.code = code
    this.reason = reason
  }
}

export interface SessionInfo { did: string, hubDid: string, role: string, csrf: string, expiresAt: string }

const BASE = '/dashboard/api'
let csrf = ''

export async function call<T> (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (method !== 'GET') headers['x-csrf-token'] = csrf
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(BASE + path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
  const text = await res.text()
  let json: unknown = null
  try { json = text === '' ? null : JSON.parse(text) } catch { /* not JSON */ }
  if (!res.ok) {
    const e = (json as { error?: { code?: string, message?: string, details?: { reason?: string } } } | null)?.error
    throw new ApiError(res.status, e?.code ?? 'internal', e?.message ?? `HTTP ${res.status}`, e?.details?.reason)
  }
  return json as T
}

export const get = async <T>(path: string): Promise<T> => await call<T>('GET', path)
export const post = async <T>(path: string, body: unknown): Promise<T> => await call<T>('POST', path, body)
export const del = async <T>(path: string): Promise<T> => await call<T>('DELETE', path)

export async function startSession (): Promise<SessionInfo> {
  const s = await get<SessionInfo>('/session')
  csrf = s.csrf
  return s
}

/** `?a=1&b=2` from the defined entries (repeated keys for arrays). */
export function query (params: Record<string, string | number | string[] | undefined | null>): string {
  const u = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue
    if (Array.isArray(v)) v.forEach(x => { u.append(k, x) })
    else u.append(k, String(v))
  }
  const s = u.toString()
  return s === '' ? '' : `?${s}`
}

export interface Page<T> { items: T[], cursor: string | null }
