/**
 * `--serve-app DIR` (src/http/static-app.ts): the hub's HTTP server serves
 * a web app's files at /app/, over real HTTP on loopback. Hostile clients
 * try to leave DIR (literal and encoded `..`, encoded slashes, dotfiles, a
 * symlink pointing out), other methods, a huge path; each is refused with a
 * typed answer and nothing outside DIR is ever returned. API routes are
 * never shadowed. The CLI refuses --serve-app without --http or without a
 * directory, and `hub start` serves the app end to end.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'node:http'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHttpServer } from '../src/http/app.js'
import { APP_CSP, MAX_APP_PATH_CHARS, staticApp } from '../src/http/static-app.js'
import type { HttpServer } from '../src/http/server.js'
import type { Hub } from '../src/hub.js'
import { cleanup, tempHub } from './helpers.js'
import { fails, hub as runHub, killAll, startDaemon } from './cli-helpers.js'

interface Raw { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** One request with the path sent byte for byte (fetch would normalise `..`). */
async function raw (base: string, method: string, path: string): Promise<Raw> {
  const u = new URL(base)
  return await new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers: { connection: 'close' } }, res => {
      let body = ''
      res.setEncoding('latin1')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
    })
    req.on('error', reject)
    req.end()
  })
}

const SECRET = 'top secret outside the app'
let root: string
let app: string
let hub: Hub
let server: HttpServer
let base: string

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'serve-app-'))
  app = join(root, 'app')
  mkdirSync(join(app, 'sub'), { recursive: true })
  mkdirSync(join(app, 'empty'))
  writeFileSync(join(app, 'index.html'), '<!doctype html><title>app</title>')
  writeFileSync(join(app, 'main.js'), 'console.log(1)')
  writeFileSync(join(app, 'automerge.wasm'), Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0))
  writeFileSync(join(app, 'data.unknownext'), 'x')
  writeFileSync(join(app, 'sub', 'index.html'), 'sub index')
  writeFileSync(join(app, '.env'), 'dotfile')
  writeFileSync(join(root, 'secret.txt'), SECRET)
  symlinkSync(join(root, 'secret.txt'), join(app, 'link-out.txt'))
  symlinkSync(root, join(app, 'dir-out'))
  symlinkSync(join(app, 'main.js'), join(app, 'link-in.js'))
  hub = await tempHub()
  server = createHttpServer(hub, { adminKey: 'k'.repeat(43), staticApp: await staticApp({ dir: app }) })
  base = await server.listen('127.0.0.1', 0)
})
afterAll(async () => {
  await server.close()
  await cleanup()
  rmSync(root, { recursive: true, force: true })
})
afterEach(killAll)

describe('static web app at /app/', () => {
  it('serves files with their MIME type, nosniff and a strict CSP that allows wasm and ws:/wss:', async () => {
    const index = await raw(base, 'GET', '/app/')
    expect(index).toMatchObject({ status: 200, body: '<!doctype html><title>app</title>' })
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(index.headers['x-content-type-options']).toBe('nosniff')
    expect(index.headers['content-security-policy']).toBe(APP_CSP)
    expect(APP_CSP).toContain("script-src 'self' 'wasm-unsafe-eval'")
    expect(APP_CSP).toContain("connect-src 'self' ws: wss:")
    expect(APP_CSP).toContain("default-src 'none'")
    expect((await raw(base, 'GET', '/app/index.html')).body).toBe(index.body)
    expect((await raw(base, 'GET', '/app/main.js')).headers['content-type']).toBe('text/javascript; charset=utf-8')
    const wasm = await raw(base, 'GET', '/app/automerge.wasm')
    expect(wasm.headers['content-type']).toBe('application/wasm')
    expect(wasm.headers['content-length']).toBe('8')
    expect((await raw(base, 'GET', '/app/data.unknownext')).headers['content-type']).toBe('application/octet-stream')
    expect((await raw(base, 'GET', '/app/sub/')).body).toBe('sub index')
    expect((await raw(base, 'GET', '/app/sub')).body).toBe('sub index')
    expect((await raw(base, 'GET', '/app/link-in.js')).body).toBe('console.log(1)')
    expect((await raw(base, 'GET', '/app/main.js?v=2')).status).toBe(200)
    // /app redirects to /app/ (relative URLs in index.html resolve under it).
    expect(await raw(base, 'GET', '/app')).toMatchObject({ status: 301, headers: { location: '/app/' } })
  })

  it('HEAD answers the headers without a body', async () => {
    const r = await raw(base, 'HEAD', '/app/main.js')
    expect(r).toMatchObject({ status: 200, body: '' })
    expect(r.headers['content-length']).toBe('14')
  })

  it('never leaves DIR: traversal, encoded traversal, encoded slashes, dotfiles and symlinks out are 404', async () => {
    const hostile = [
      '/app/../secret.txt', '/app/sub/../../secret.txt', '/app/%2e%2e/secret.txt', '/app/%2E%2E/secret.txt',
      '/app/..%2fsecret.txt', '/app/..%2Fsecret.txt', '/app/%2e%2e%2fsecret.txt', '/app/sub/..%5c..%5csecret.txt',
      '/app/..\\secret.txt', '/app/%00', '/app/main.js%00.html', '/app/.env', '/app/%2eenv', '/app//etc/passwd',
      '/app/link-out.txt', '/app/dir-out/secret.txt', '/app/dir-out/', '/app/empty/', '/app/nope.js', '/app/%2fetc%2fpasswd'
    ]
    for (const path of hostile) {
      const r = await raw(base, 'GET', path)
      expect(r.body, path).not.toContain(SECRET)
      expect(r.body, path).not.toContain('dotfile')
      // Literal `..` is resolved by URL parsing before routing: /app/../secret.txt is /secret.txt, no route, 404.
      expect(r.status, path).toBe(404)
      expect(JSON.parse(r.body), path).toMatchObject({ error: { code: 'not_found' } })
    }
    expect((await raw(base, 'GET', '/app/%E0%A4%A')).status).toBe(400)
    expect(JSON.parse((await raw(base, 'GET', '/app/%E0%A4%A')).body)).toMatchObject({ error: { code: 'bad_request', details: { reason: 'bad_encoding' } } })
  })

  it('refuses other methods with 405 and Allow, and a huge path with too_large before any lookup', async () => {
    for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await raw(base, m, '/app/index.html')
      expect(r.status, m).toBe(405)
      expect(r.headers.allow).toBe('GET, HEAD')
    }
    const huge = await raw(base, 'GET', '/app/' + 'a/'.repeat(MAX_APP_PATH_CHARS))
    expect(huge.status).toBe(413)
    expect(JSON.parse(huge.body)).toMatchObject({ error: { code: 'too_large', details: { reason: 'path_too_long' } } })
  })

  it('does not shadow API routes or serve outside /app/', async () => {
    expect(JSON.parse((await raw(base, 'GET', '/health/live')).body)).toEqual({ status: 'ok' })
    expect((await raw(base, 'GET', '/index.html')).status).toBe(404)
    expect((await raw(base, 'GET', '/main.js')).status).toBe(404)
    expect((await raw(base, 'GET', '/application/main.js')).status).toBe(404)
  })

  it('refuses a DIR that is not a directory', async () => {
    await expect(staticApp({ dir: join(root, 'secret.txt') })).rejects.toMatchObject({ code: 'bad_request', details: { reason: 'no_app_dir' } })
    await expect(staticApp({ dir: join(root, 'missing') })).rejects.toMatchObject({ code: 'bad_request', details: { reason: 'no_app_dir' } })
  })
})

describe('hub start --serve-app', () => {
  it('goes with --http and a directory', async () => {
    const dir = join(root, 'cli-hub')
    expect((await runHub(['init', '--dir', dir, '--json'])).code).toBe(0)
    // The CLI prints code and message (its stable JSON error form).
    expect((await fails(['start', '--dir', dir, '--serve-app', app], 'bad_request')).message).toMatch(/--serve-app goes with --http/)
    expect((await fails(['start', '--dir', dir, '--http', '127.0.0.1:0', '--serve-app', join(root, 'secret.txt')], 'bad_request')).message).toMatch(/is not a directory/)
    expect((await fails(['start', '--dir', dir, '--http', '127.0.0.1:0', '--serve-app', join(root, 'missing')], 'bad_request')).message).toMatch(/is not a directory/)
    // Nothing started: no daemon.json left behind.
    expect((await runHub(['status', '--dir', dir, '--json'])).stdout).toContain('"running":false')
  })

  it('serves the app beside the API and reports its URL', async () => {
    const dir = join(root, 'cli-hub2')
    expect((await runHub(['init', '--dir', dir, '--json'])).code).toBe(0)
    const d = await startDaemon(dir, ['--http', '127.0.0.1:0', '--serve-app', app])
    const url = d.info.http?.app
    expect(url).toBe(`${d.info.http?.url ?? ''}/app/`)
    const r = await fetch(url ?? '')
    expect(await r.text()).toBe('<!doctype html><title>app</title>')
    expect(r.headers.get('content-security-policy')).toBe(APP_CSP)
  })
})
