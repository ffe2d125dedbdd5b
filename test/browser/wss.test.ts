/**
 * Secure WebSockets behind a TLS-terminating proxy, as docs/browser.md
 * sets it up: the hub listens on plain WebSockets on loopback, a proxy
 * terminates TLS (here a Node https server with a throwaway self-signed
 * certificate, forwarding the upgrade byte for byte, as nginx does) and the
 * page dials `/dns4/localhost/tcp/<port>/wss/p2p/<peer id>`. Noise inside
 * still authenticates the hub: a wrong peer id behind the same proxy fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import { connect, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { browserUnavailable, buildTestPage, launchBrowser, stopBrowsers, type TestBrowser, type TestPage } from './harness.js'
import { cleanup, playlist } from '../helpers.js'
import { founder, stopAll } from '../net-helpers.js'
import { Ed25519KeyPair } from '../../src/identity/keys.js'

const CTX = 'https://schema.org'
const skip = browserUnavailable() ?? (spawnSync('openssl', ['version']).status === 0 ? undefined : 'no openssl to make the proxy\'s certificate')
if (skip !== undefined) console.warn(`wss test skipped: ${skip}`)

/** A TLS-terminating WebSocket proxy to 127.0.0.1:`target`; counts the upgrades it forwarded. */
async function tlsProxy (target: number, dir: string): Promise<{ port: number, upgrades: () => number, close: () => Promise<void> }> {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
  let upgrades = 0
  const server: Server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => { res.writeHead(426).end() })
  server.on('upgrade', (req, socket, head) => {
    upgrades++
    const upstream = connect(target, '127.0.0.1', () => {
      const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`]
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i] ?? ''}: ${req.rawHeaders[i + 1] ?? ''}`)
      upstream.write(lines.join('\r\n') + '\r\n\r\n')
      upstream.write(head)
      upstream.pipe(socket)
      socket.pipe(upstream)
    })
    upstream.on('error', () => { socket.destroy() })
    socket.on('error', () => { upstream.destroy() })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    upgrades: () => upgrades,
    close: async () => { server.closeAllConnections(); await new Promise<void>(resolve => server.close(() => { resolve() })) }
  }
}

async function call (page: Page, name: string, ...args: unknown[]): Promise<{ ok?: unknown, error?: { code?: string, message: string } }> {
  return await page.evaluate(async ([n, a]) => {
    const api = (window as unknown as { __api: Record<string, (...x: unknown[]) => unknown> }).__api
    return await api[n as string]!(...(a as unknown[]))
  }, [name, args] as const) as { ok?: unknown, error?: { code?: string, message: string } }
}

describe.skipIf(skip !== undefined)('wss:// through a TLS-terminating proxy', () => {
  let page: TestPage
  let browser: TestBrowser
  const dir = mkdtempSync(join(tmpdir(), 'hub-wss-'))

  beforeAll(async () => {
    page = await buildTestPage('test/browser/pages/app.ts')
    // The proxy's certificate is self-signed and throwaway: let this browser accept it.
    browser = await launchBrowser({ args: ['--ignore-certificate-errors'] })
  }, 60_000)
  afterAll(async () => {
    await stopAll()
    await stopBrowsers()
    await cleanup()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a page dials /dns4/localhost/tcp/PORT/wss/p2p/ID and reads; a wrong peer id behind the proxy is refused', async () => {
    const a = await founder({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    const ws = a.node.multiaddrs().find(m => m.includes('/ws/')) ?? ''
    const wsPort = Number(/\/tcp\/(\d+)\/ws/.exec(ws)?.[1])
    const proxy = await tlsProxy(wsPort, dir)
    try {
      const mine = await a.hub.collections.create(playlist('Over wss'))
      const tab = await browser.open(`${page.url}/`)
      const { ok: id } = await call(tab, 'identity', 'wss-app')
      await a.hub.permissions.grant({ grantee: (id as { did: string }).did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })

      const wrongPeer = (await import('@libp2p/peer-id')).peerIdFromPublicKey((await import('@libp2p/crypto/keys')).publicKeyFromRaw(Ed25519KeyPair.generate().publicKey)).toString()
      const refused = await call(tab, 'connect', `/dns4/localhost/tcp/${proxy.port}/wss/p2p/${wrongPeer}`, a.hub.did, 'wss-app')
      expect(refused.error?.code).toBe('unavailable')

      const before = proxy.upgrades()
      const conn = await call(tab, 'connect', `/dns4/localhost/tcp/${proxy.port}/wss/p2p/${a.hub.peerId}`, a.hub.did, 'wss-app')
      expect(conn.error).toBeUndefined()
      expect(proxy.upgrades()).toBe(before + 1)
      const list = await call(tab, 'query', CTX, 'MusicPlaylist')
      expect((list.ok as Array<{ objectId: string }>).map(o => o.objectId)).toEqual([mine.objectId])
      await call(tab, 'close')
      await tab.close()
    } finally {
      await proxy.close()
    }
  })
})
