/**
 * `hub start --http ADDR --serve-app DIR`: the hub's HTTP server also
 * serves a web app's static files from DIR under `/app/`, so one command
 * starts a hub and the app that talks to it (issue 15; docs/browser.md).
 *
 * Only what a static web app needs, and nothing a hostile client can turn
 * into more:
 * - under `/app/` only, and only for paths no API route matched (the
 *   middleware runs after routing and never sees a routed request), so it
 *   cannot shadow an API route;
 * - GET and HEAD; anything else is 405 with `Allow: GET, HEAD`;
 * - no directory listing: a directory answers its `index.html` or 404;
 * - no escape from DIR: each path segment is percent-decoded and refused
 *   when it is empty, `.`/`..`, a dotfile, or holds `/`, `\` or NUL; the
 *   file's real path (symlinks resolved) must lie inside DIR's real path,
 *   and it is opened with O_NOFOLLOW and must be a regular file;
 * - paths longer than MAX_APP_PATH_CHARS are refused before any lookup;
 * - a MIME type from a fixed table (application/wasm for .wasm, so
 *   `WebAssembly.instantiateStreaming` accepts it; unknown extensions are
 *   application/octet-stream), `X-Content-Type-Options: nosniff`, and a
 *   strict Content-Security-Policy that still lets the app load Automerge's
 *   wasm (`'wasm-unsafe-eval'`) and dial hubs over `ws:`/`wss:`.
 *
 * Requests count against the `public` rate limit like any unauthenticated
 * route. Errors are the server's usual `{"error":{"code",…}}` answers, with
 * `details.reason` for refusals.
 */
import { constants, type Stats } from 'node:fs'
import { open, realpath, stat } from 'node:fs/promises'
import { extname, join, sep } from 'node:path'
import { BadRequestError, NotFoundError, TooLargeError } from '../errors.js'
import type { Middleware } from './pipeline.js'

/** Where the app is served. */
export const APP_PREFIX = '/app/'
/** Longest request path accepted under /app/ (characters, still percent-encoded). */
export const MAX_APP_PATH_CHARS = 1024

/** The Content-Security-Policy of every file served: same-origin code and wasm, WebSockets to any hub. */
export const APP_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "connect-src 'self' ws: wss:",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'"
].join('; ')

const MIME: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.webmanifest': 'application/manifest+json'
})

export function mimeTypeOf (file: string): string {
  return MIME[extname(file).toLowerCase()] ?? 'application/octet-stream'
}

const HEADERS = Object.freeze({
  'x-content-type-options': 'nosniff',
  'content-security-policy': APP_CSP,
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  // Revalidate every time: a rebuilt app must not be mixed with cached chunks of the old one.
  'cache-control': 'no-cache'
})

export interface StaticAppInit {
  /** The directory served (its real path is resolved once, at creation). */
  dir: string
}

/** The decoded segments of a path under /app/ ([] for the app's root), or a typed refusal. */
export function appPathSegments (pathname: string): string[] {
  if (pathname.length > MAX_APP_PATH_CHARS) throw new TooLargeError(`an app path is at most ${MAX_APP_PATH_CHARS} characters`, { reason: 'path_too_long', limit: MAX_APP_PATH_CHARS })
  const rest = pathname.slice(APP_PREFIX.length)
  const raw = rest === '' ? [] : rest.split('/')
  // A trailing slash names a directory: its index.html.
  if (raw.at(-1) === '') raw.pop()
  return raw.map(s => {
    let seg: string
    try {
      seg = decodeURIComponent(s)
    } catch {
      throw new BadRequestError('malformed percent-encoding in the path', { reason: 'bad_encoding' })
    }
    if (seg === '' || seg.startsWith('.') || /[/\\\0]/.test(seg)) throw new NotFoundError('no such file', { reason: 'bad_path' })
    return seg
  })
}

/**
 * The middleware serving DIR at /app/ (see the module comment). Put it
 * after routing: it answers only requests that matched no route.
 */
export async function staticApp (init: StaticAppInit): Promise<Middleware> {
  const root = await realpath(init.dir).catch((err: unknown) => { throw new BadRequestError(`--serve-app ${init.dir}: ${(err as Error).message}`, { reason: 'no_app_dir' }) })
  if (!(await stat(root)).isDirectory()) throw new BadRequestError(`--serve-app ${init.dir} is not a directory`, { reason: 'no_app_dir' })
  const inside = (p: string): boolean => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep)

  /** The regular file a path names, or not_found (never a hint of what exists outside DIR). */
  const locate = async (segments: string[]): Promise<string> => {
    let file = join(root, ...segments)
    let st: Stats
    try {
      file = await realpath(file)
      if (!inside(file)) throw new NotFoundError('no such file')
      st = await stat(file)
      if (st.isDirectory()) {
        file = await realpath(join(file, 'index.html'))
        if (!inside(file)) throw new NotFoundError('no such file')
        st = await stat(file)
      }
    } catch (err) {
      if (err instanceof NotFoundError) throw err
      throw new NotFoundError('no such file')
    }
    if (!st.isFile()) throw new NotFoundError('no such file')
    return file
  }

  return async (ctx, next) => {
    const path = ctx.url?.pathname
    if (path === undefined || ctx.match?.kind !== 'none' || !(path === '/app' || path.startsWith(APP_PREFIX))) {
      await next()
      return
    }
    const { req, res } = ctx
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      ctx.status = 405
      req.resume()
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
      res.end(JSON.stringify({ error: { code: 'bad_request', message: `${req.method ?? ''} is not allowed here (allowed: GET, HEAD)` } }))
      return
    }
    if (path === '/app') {
      ctx.status = 301
      res.writeHead(301, { location: APP_PREFIX, 'cache-control': 'no-store' }).end()
      return
    }
    const file = await locate(appPathSegments(path))
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => { throw new NotFoundError('no such file') })
    try {
      const st = await handle.stat()
      if (!st.isFile()) throw new NotFoundError('no such file')
      ctx.status = 200
      res.writeHead(200, { ...HEADERS, 'content-type': mimeTypeOf(file), 'content-length': st.size, 'last-modified': st.mtime.toUTCString() })
      if (req.method === 'HEAD') { res.end(); return }
      const stream = handle.createReadStream({ autoClose: false })
      await new Promise<void>((resolve, reject) => {
        stream.on('error', reject)
        res.on('close', resolve)
        stream.pipe(res)
      })
    } finally {
      await handle.close()
    }
  }
}
