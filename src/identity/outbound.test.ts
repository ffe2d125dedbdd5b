/**
 * The outbound rule (outbound.ts) in isolation: the address classification
 * table (every IPv4/IPv6 spelling, allowed and refused), what WHATWG URL
 * parsing already normalizes, the policy modes and their environment
 * variables, the listener-dependent default, URL checks, and the pinned
 * fetch against loopback servers (no connection to a refused address, the
 * vetted address is the one connected to, no redirect followed).
 */
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  addressAllowed, checkOutboundEnv, checkOutboundLiteral, checkOutboundUrl, chosenOutboundMode, classifyAddress, createOutboundFetch,
  isLoopbackHost, outboundFetch, outboundMode, parseIPv4, restrictOutboundFor, setOutboundLookup, type AddressKind, type OutboundMode
} from './outbound.js'

const ENV = ['HUB_OUTBOUND', 'HUB_OUTBOUND_LOOPBACK'] as const

/** Run `fn` with the outbound variables set as given (others unset), restoring them afterwards. */
async function withEnv<T> (vars: Partial<Record<typeof ENV[number], string>>, fn: () => T | Promise<T>): Promise<T> {
  const saved = ENV.map(k => [k, process.env[k]] as const)
  for (const k of ENV) delete process.env[k]
  Object.assign(process.env, vars)
  try {
    return await fn()
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

afterEach(() => { setOutboundLookup(undefined) })

describe('classifyAddress', () => {
  const table: Array<[string, AddressKind]> = [
    // IPv4
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['100.127.255.255', 'private'],
    ['100.128.0.1', 'public'],
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['169.254.1.1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    // IPv4, other spellings (inet_aton)
    ['2130706433', 'loopback'],
    ['0x7f000001', 'loopback'],
    ['0x7f.1', 'loopback'],
    ['0177.0.0.1', 'loopback'],
    ['017700000001', 'loopback'],
    ['127.1', 'loopback'],
    ['0xa9.0xfe.0xa9.0xfe', 'metadata'],
    ['2852039166', 'metadata'],
    ['012.0.0.1', 'private'],
    // IPv6
    ['2606:4700:4700::1111', 'public'],
    ['2001:4860:4860::8888', 'public'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'private'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fd00:ec2::254', 'metadata'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['100::1', 'reserved'],
    ['4000::1', 'reserved'],
    // IPv6 forms carrying an IPv4 address: classified by that address
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['[::ffff:7f00:1]', 'loopback'],
    ['0:0:0:0:0:ffff:7f00:0001', 'loopback'],
    ['::FFFF:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:0.0.0.0', 'unspecified'],
    ['::ffff:8.8.8.8', 'public'],
    ['::ffff:0:127.0.0.1', 'loopback'], // IPv4-translated
    ['::127.0.0.1', 'loopback'], // IPv4-compatible
    ['::7f00:1', 'loopback'],
    ['::10.0.0.1', 'private'],
    ['::8.8.8.8', 'public'],
    ['64:ff9b::127.0.0.1', 'loopback'], // NAT64
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b::8.8.8.8', 'public'],
    ['64:ff9b:1::a00:1', 'private'], // local-use NAT64
    ['2002:7f00:1::', 'loopback'], // 6to4
    ['2002:a9fe:a9fe::1', 'metadata'],
    ['2002:808:808::1', 'public']
  ]
  it.each(table)('%s → %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind)
  })

  it('host names are not addresses', () => {
    for (const name of ['example.com', 'localhost', 'face', 'deadbeef.cafe', '0x', 'a.b.c.d.e', '1.2.3.4.5', '256.1.1.1', '::ffff:1.2.3.256', '']) {
      expect(classifyAddress(name), name).toBe(name === '0x' ? 'unspecified' : undefined)
    }
  })

  it('parseIPv4 follows inet_aton: parts fill from the right, overflow is no address', () => {
    expect(parseIPv4('1.2.3')).toEqual([1, 2, 0, 3])
    expect(parseIPv4('1.65535')).toEqual([1, 0, 255, 255])
    expect(parseIPv4('4294967295')).toEqual([255, 255, 255, 255])
    expect(parseIPv4('4294967296')).toBeUndefined()
    expect(parseIPv4('1.256.1.1')).toBeUndefined()
    expect(parseIPv4('08.1.1.1')).toBeUndefined() // 8 is no octal digit
  })

  it('WHATWG URL parsing turns every IPv4 spelling into a dotted quad and IPv6 into canonical hex — both classify the same', () => {
    const cases: Array<[string, string, AddressKind]> = [
      ['http://2130706433/', '127.0.0.1', 'loopback'],
      ['http://0x7f.1/', '127.0.0.1', 'loopback'],
      ['http://0177.0.0.1/', '127.0.0.1', 'loopback'],
      ['http://127.1/', '127.0.0.1', 'loopback'],
      ['http://0xa9fea9fe/', '169.254.169.254', 'metadata'],
      ['http://[::ffff:127.0.0.1]/', '[::ffff:7f00:1]', 'loopback'],
      ['http://[::127.0.0.1]/', '[::7f00:1]', 'loopback'],
      ['http://[64:ff9b::169.254.169.254]/', '[64:ff9b::a9fe:a9fe]', 'metadata'],
      ['http://127.0.0.1./', '127.0.0.1', 'loopback'],
      ['http://%31%32%37.0.0.1/', '127.0.0.1', 'loopback'],
      ['http://１２７.0.0.1/', '127.0.0.1', 'loopback']
    ]
    for (const [raw, hostname, kind] of cases) {
      const url = new URL(raw)
      expect(url.hostname, raw).toBe(hostname)
      expect(classifyAddress(url.hostname), raw).toBe(kind)
    }
  })

  it('isLoopbackHost: localhost, 127/8, ::1 and the IPv6 forms of 127/8, with or without a port', () => {
    for (const h of ['localhost', 'LOCALHOST:80', 'api.localhost', '127.0.0.1:8080', '127.9.9.9', '[::1]:9', '::1', '[::ffff:127.0.0.1]:9', '[::ffff:7f00:1]', '2130706433']) expect(isLoopbackHost(h), h).toBe(true)
    for (const h of ['0.0.0.0', '::', '[::]:80', '10.0.0.1', '169.254.169.254', 'example.com', '192.168.1.2:8080', 'localhost.example.com', '']) expect(isLoopbackHost(h), h).toBe(false)
  })
})

describe('the policy', () => {
  const kinds: AddressKind[] = ['public', 'loopback', 'private', 'unique-local', 'link-local', 'metadata', 'unspecified', 'multicast', 'broadcast', 'reserved']
  const allowed: Record<OutboundMode, AddressKind[]> = {
    deny: ['public'],
    loopback: ['public', 'loopback'],
    private: ['public', 'loopback', 'private', 'unique-local']
  }
  it.each(Object.entries(allowed))('mode %s allows exactly %j', (mode, kindsAllowed) => {
    for (const k of kinds) expect(addressAllowed(k, mode as OutboundMode), `${mode} ${k}`).toBe(kindsAllowed.includes(k))
  })

  it('modes from the environment: HUB_OUTBOUND first, then HUB_OUTBOUND_LOOPBACK; unknown values fail closed and stop a daemon', async () => {
    await withEnv({}, () => { expect(chosenOutboundMode()).toBeUndefined() })
    for (const m of ['deny', 'loopback', 'private'] as const) await withEnv({ HUB_OUTBOUND: m }, () => { expect(outboundMode()).toBe(m) })
    await withEnv({ HUB_OUTBOUND_LOOPBACK: 'deny' }, () => { expect(outboundMode()).toBe('deny') })
    await withEnv({ HUB_OUTBOUND_LOOPBACK: 'allow' }, () => { expect(outboundMode()).toBe('loopback') })
    await withEnv({ HUB_OUTBOUND: 'private', HUB_OUTBOUND_LOOPBACK: 'deny' }, () => { expect(outboundMode()).toBe('private') })
    await withEnv({ HUB_OUTBOUND: 'everything' }, () => {
      expect(outboundMode()).toBe('deny')
      expect(() => checkOutboundEnv()).toThrow(expect.objectContaining({ code: 'bad_request', details: { reason: 'bad_outbound_mode' } }))
    })
    await withEnv({ HUB_OUTBOUND_LOOPBACK: 'yes' }, () => {
      expect(outboundMode()).toBe('deny')
      expect(() => checkOutboundEnv()).toThrow(/HUB_OUTBOUND_LOOPBACK=yes/)
    })
    await withEnv({ HUB_OUTBOUND: 'loopback', HUB_OUTBOUND_LOOPBACK: 'allow' }, () => { expect(() => checkOutboundEnv()).not.toThrow() })
  })

  it('default: loopback, but deny while a listener beyond loopback is held, unless the operator chose a mode', async () => {
    await withEnv({}, async () => {
      expect(outboundMode()).toBe('loopback')
      const onLoopback = restrictOutboundFor('127.0.0.1')
      expect(outboundMode()).toBe('loopback')
      const a = restrictOutboundFor('0.0.0.0')
      const b = restrictOutboundFor('::')
      expect(outboundMode()).toBe('deny')
      await withEnv({ HUB_OUTBOUND_LOOPBACK: 'allow' }, () => { expect(outboundMode()).toBe('loopback') })
      await withEnv({ HUB_OUTBOUND: 'private' }, () => { expect(outboundMode()).toBe('private') })
      a()
      a() // releasing twice counts once
      expect(outboundMode()).toBe('deny')
      b()
      onLoopback()
      expect(outboundMode()).toBe('loopback')
      for (const host of ['192.168.1.10', 'hub.example.com', '[::]']) {
        const r = restrictOutboundFor(host)
        expect(outboundMode(), host).toBe('deny')
        r()
      }
    })
  })
})

describe('checkOutboundUrl and checkOutboundLiteral', () => {
  const reason = (fn: () => unknown): unknown => {
    try {
      fn()
    } catch (err) {
      return (err as { details?: { reason?: unknown } }).details?.reason
    }
    return 'accepted'
  }

  it('default (loopback) mode: HTTPS to public names and addresses, HTTP only to loopback; link-local, metadata, private refused', async () => {
    await withEnv({}, () => {
      for (const ok of ['https://example.com/x', 'https://8.8.8.8/', 'http://127.0.0.1:8080/x', 'http://localhost/x', 'http://[::1]:9/', 'https://[::ffff:8.8.8.8]/']) {
        expect(reason(() => checkOutboundUrl(ok)), ok).toBe('accepted')
      }
      for (const [bad, why] of [
        ['http://example.com/', 'insecure_url'],
        ['http://10.0.0.1/', 'insecure_url'],
        ['https://user:pw@example.com/', 'bad_url'],
        ['not a url', 'bad_url'],
        ['https://169.254.169.254/latest/meta-data/', 'forbidden_address'],
        ['http://169.254.169.254/', 'insecure_url'],
        ['https://[fe80::1]/', 'forbidden_address'],
        ['https://10.0.0.1/', 'forbidden_address'],
        ['https://[fd00::1]/', 'forbidden_address'],
        ['https://0.0.0.0:8080/', 'forbidden_address'],
        ['https://[::]/', 'forbidden_address'],
        ['https://224.0.0.1/', 'forbidden_address'],
        ['https://[::ffff:169.254.169.254]/', 'forbidden_address'],
        ['https://[64:ff9b::a9fe:a9fe]/', 'forbidden_address'],
        ['https://0xa9fea9fe/', 'forbidden_address']
      ] as Array<[string, string]>) {
        expect(reason(() => checkOutboundUrl(bad)), bad).toBe(why)
      }
    })
  })

  it('deny mode: every loopback form refused with forbidden_address, whatever the spelling', async () => {
    await withEnv({ HUB_OUTBOUND: 'deny' }, () => {
      for (const bad of ['http://127.0.0.1:8080/', 'https://127.0.0.1/', 'http://localhost/', 'https://api.localhost/', 'https://[::1]/', 'http://[::ffff:127.0.0.1]:9/', 'https://[::ffff:7f00:1]/', 'https://[::127.0.0.1]/', 'https://[64:ff9b::7f00:1]/', 'https://[2002:7f00:1::]/', 'http://2130706433/', 'http://0x7f.1/', 'http://0177.0.0.1/']) {
        expect(reason(() => checkOutboundUrl(bad)), bad).toBe('forbidden_address')
      }
      expect(() => checkOutboundUrl('https://[::ffff:7f00:1]:9/x', 'service endpoint')).toThrow(/service endpoint https:\/\/\[::ffff:7f00:1\]:9 is a loopback address/)
      expect(reason(() => checkOutboundUrl('https://example.com/'))).toBe('accepted')
    })
  })

  it('private mode: private and unique-local allowed over HTTPS; link-local and metadata still refused', async () => {
    await withEnv({ HUB_OUTBOUND: 'private' }, () => {
      for (const ok of ['https://10.0.0.1/', 'https://192.168.1.1/', 'https://[fd12::1]/', 'http://127.0.0.1/']) expect(reason(() => checkOutboundUrl(ok)), ok).toBe('accepted')
      for (const bad of ['https://169.254.169.254/', 'https://100.100.100.200/', 'https://[fd00:ec2::254]/', 'https://[fe80::1]/']) expect(reason(() => checkOutboundUrl(bad)), bad).toBe('forbidden_address')
    })
  })

  it('checkOutboundLiteral: checks only http(s) address literals (and localhost), not the scheme or names', async () => {
    await withEnv({ HUB_OUTBOUND: 'deny' }, () => {
      expect(reason(() => checkOutboundLiteral(new URL('http://issuer.example.com/x')))).toBe('accepted')
      expect(reason(() => checkOutboundLiteral(new URL('urn:example:x')))).toBe('accepted')
      expect(reason(() => checkOutboundLiteral(new URL('http://[::ffff:127.0.0.1]:9/')))).toBe('forbidden_address')
      expect(reason(() => checkOutboundLiteral(new URL('http://localhost/')))).toBe('forbidden_address')
    })
    await withEnv({}, () => {
      expect(reason(() => checkOutboundLiteral(new URL('http://127.0.0.1:9/')))).toBe('accepted')
      expect(reason(() => checkOutboundLiteral(new URL('http://169.254.169.254/')))).toBe('forbidden_address')
    })
  })
})

describe('outboundFetch over loopback', () => {
  let web: Server
  let webPort = 0
  /** A TCP listener that answers nothing and counts the connections it gets. */
  let trap: TcpServer
  let trapPort = 0
  let trapped = 0

  beforeAll(async () => {
    web = createHttpServer((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: `http://127.0.0.1:${trapPort}/` })
        res.end()
        return
      }
      res.setHeader('content-type', 'application/json')
      res.setHeader('x-seen-host', req.headers.host ?? '')
      res.end(JSON.stringify({ path: req.url, method: req.method }))
    })
    await new Promise<void>(resolve => web.listen(0, '127.0.0.1', resolve))
    webPort = (web.address() as AddressInfo).port
    trap = createTcpServer(socket => {
      trapped++
      socket.destroy()
    })
    await new Promise<void>(resolve => trap.listen(0, '127.0.0.1', resolve))
    trapPort = (trap.address() as AddressInfo).port
  })
  afterAll(async () => {
    await new Promise(resolve => web.close(resolve))
    await new Promise(resolve => trap.close(resolve))
  })

  it('fetches over plain HTTP to loopback: status, headers, body, POST bodies', async () => {
    await withEnv({}, async () => {
      const res = await outboundFetch(`http://127.0.0.1:${webPort}/a?b=1`, { method: 'POST', body: '{"x":1}', headers: { 'content-type': 'application/json' } })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('application/json')
      expect(await res.json()).toEqual({ path: '/a?b=1', method: 'POST' })
    })
  })

  it('never follows a redirect: redirect "error" rejects, "manual" hands back the 3xx; the target is never contacted', async () => {
    await withEnv({}, async () => {
      const before = trapped
      await expect(outboundFetch(`http://127.0.0.1:${webPort}/redirect`, { redirect: 'error' })).rejects.toThrow(/redirect/)
      await expect(outboundFetch(`http://127.0.0.1:${webPort}/redirect`)).rejects.toThrow(/redirect/)
      const manual = await outboundFetch(`http://127.0.0.1:${webPort}/redirect`, { redirect: 'manual' })
      expect(manual.status).toBe(302)
      expect(manual.headers.get('location')).toBe(`http://127.0.0.1:${trapPort}/`)
      expect(trapped).toBe(before)
    })
  })

  it('a host name is connected to at the address the vetted lookup returned (pinned: the system resolver is never asked)', async () => {
    await withEnv({}, async () => {
      const asked: string[] = []
      setOutboundLookup(async name => { asked.push(name); return [{ address: '127.0.0.1', family: 4 }] })
      // No DNS server knows this name: an answer proves the socket used our lookup's address.
      const f = createOutboundFetch({ allowInsecureHttp: true })
      const res = await f(`http://hub-under-test.invalid:${webPort}/pinned`)
      expect(await res.json()).toEqual({ path: '/pinned', method: 'GET' })
      expect(res.headers.get('x-seen-host')).toBe(`hub-under-test.invalid:${webPort}`)
      expect(asked).toEqual(['hub-under-test.invalid'])
    })
  })

  it('refuses a name unless EVERY address it resolves to is allowed; no connection is attempted', async () => {
    const before = trapped
    await withEnv({ HUB_OUTBOUND: 'deny' }, async () => {
      setOutboundLookup(async () => [{ address: '8.8.8.8', family: 4 }, { address: '127.0.0.1', family: 4 }])
      await expect(outboundFetch(`https://mixed.invalid:${trapPort}/`)).rejects.toMatchObject({ code: 'bad_request', details: { reason: 'forbidden_address', addressKind: 'loopback' } })
      setOutboundLookup(async () => [{ address: '::ffff:127.0.0.1', family: 6 }])
      await expect(outboundFetch(`https://mapped.invalid:${trapPort}/`)).rejects.toMatchObject({ details: { reason: 'forbidden_address' } })
    })
    await withEnv({}, async () => {
      setOutboundLookup(async () => [{ address: '169.254.169.254', family: 4 }])
      await expect(outboundFetch('https://metadata.invalid/latest/meta-data/')).rejects.toMatchObject({ details: { reason: 'forbidden_address', addressKind: 'metadata' } })
      // Plain HTTP: a name must resolve to loopback only, even with an allowed public address.
      setOutboundLookup(async () => [{ address: '127.0.0.1', family: 4 }, { address: '8.8.8.8', family: 4 }])
      await expect(outboundFetch(`http://localhost:${trapPort}/`)).rejects.toMatchObject({ details: { reason: 'forbidden_address' } })
    })
    await withEnv({ HUB_OUTBOUND: 'deny' }, async () => {
      setOutboundLookup(undefined)
      await expect(outboundFetch(`http://127.0.0.1:${trapPort}/`)).rejects.toMatchObject({ details: { reason: 'forbidden_address' } })
      await expect(outboundFetch(`http://localhost:${trapPort}/`)).rejects.toMatchObject({ details: { reason: 'forbidden_address' } })
      await expect(outboundFetch(`https://[::ffff:127.0.0.1]:${trapPort}/`)).rejects.toMatchObject({ details: { reason: 'forbidden_address' } })
    })
    expect(trapped).toBe(before)
  })

  it('network failures reject with a TypeError like fetch; an aborted request with its AbortError', async () => {
    await withEnv({}, async () => {
      const closed = createTcpServer()
      await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve))
      const port = (closed.address() as AddressInfo).port
      await new Promise(resolve => closed.close(resolve))
      await expect(outboundFetch(`http://127.0.0.1:${port}/`)).rejects.toThrow(TypeError)
      const ctl = new AbortController()
      ctl.abort()
      await expect(outboundFetch(`http://127.0.0.1:${webPort}/`, { signal: ctl.signal })).rejects.toMatchObject({ name: 'AbortError' })
    })
  })
})
