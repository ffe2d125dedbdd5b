/**
 * SSRF through the hub's outbound requests, over real HTTP on loopback.
 *
 * A "trap" — a plain TCP listener on 127.0.0.1 that counts every connection
 * it receives and answers nothing — stands for a service on the hub's own
 * machine. Anonymous callers then try to make the hub reach it: a DCP
 * presentation query whose ID token `iss` is a did:web naming the trap in
 * some spelling (IPv4-mapped IPv6 such as `[::ffff:127.0.0.1]`, its hex
 * form, decimal and hex IPv4, a host name resolving to 127.0.0.1), and the
 * other outbound paths (status lists, issuance delivery, service endpoints
 * written through the Identity API). In `deny` mode every attempt must be
 * answered with a typed 4xx and the trap must see no connection at all.
 * Sanity cases show the trap does count connections when the policy allows
 * loopback, so "no connection" is not vacuous.
 *
 * Last, the default rule: a daemon whose HTTP server listens beyond
 * loopback (0.0.0.0) switches outbound requests to `deny` unless the
 * operator explicitly allows loopback.
 */
import { createServer, type AddressInfo, type Server } from 'node:net'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Daemon } from '../src/daemon/daemon.js'
import { Hub } from '../src/hub.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { outboundMode, setOutboundLookup } from '../src/identity/outbound.js'
import { DCP_CONTEXT } from '../src/org/dcp/schemas.js'
import { postDcp } from '../src/org/issuance-client.js'
import { signJwt } from '../src/org/jwt.js'
import { StatusListChecker } from '../src/org/status-checker.js'
import { cleanup, tempDir } from './helpers.js'
import { orgServer, type ApiReply, type OrgServer } from './org-helpers.js'

const ENV = ['HUB_OUTBOUND', 'HUB_OUTBOUND_LOOPBACK'] as const

/** Run `fn` with the outbound variables set as given (the others unset), restoring them afterwards. */
async function withEnv<T> (vars: Partial<Record<typeof ENV[number], string>>, fn: () => Promise<T>): Promise<T> {
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

let trap: Server
let trapPort = 0
let connections = 0

beforeAll(async () => {
  trap = createServer(socket => {
    connections++
    socket.destroy()
  })
  await new Promise<void>(resolve => trap.listen(0, '127.0.0.1', resolve))
  trapPort = (trap.address() as AddressInfo).port
})
afterAll(async () => {
  await new Promise(resolve => trap.close(resolve))
})
afterEach(async () => {
  setOutboundLookup(undefined)
  await cleanup()
})

/** The number of connections the trap receives while `fn` runs. */
async function connectionsDuring (fn: () => Promise<void>): Promise<number> {
  // The trap counts in its accept callback and then resets the socket, so any
  // connection the hub opened is counted before the hub's request can fail.
  const before = connections
  await fn()
  return connections - before
}

function expectRefused (r: ApiReply, status: number, reason: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status)
  expect(r.body?.error?.code, JSON.stringify(r.body)).toBeTypeOf('string')
  expect(r.body?.error?.details?.reason, JSON.stringify(r.body)).toBe(reason)
}

const IDENTITY = '/api/identity/v1/participants'

async function holder (srv: OrgServer): Promise<{ did: string, apiKey: string }> {
  const r = await srv.api('POST', IDENTITY, { key: srv.adminKey, body: { participantId: 'acme', did: srv.did('acme'), active: true } })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return { did: srv.did('acme'), apiKey: r.body.apiKey as string }
}

/** An anonymous caller's presentation query to acme, with an ID token claiming `iss` (signed by a key nobody knows). */
async function queryAs (srv: OrgServer, acmeDid: string, iss: string): Promise<ApiReply> {
  const key = Ed25519KeyPair.generate()
  const now = Math.floor(Date.now() / 1000)
  const idToken = signJwt({ kid: `${iss}#key-1`, sign: d => key.sign(d) }, {
    iss, sub: iss, aud: acmeDid, iat: now, exp: now + 300, jti: `urn:uuid:${randomUUID()}`, token: 'a.b.c'
  })
  return await srv.api('POST', '/api/credentials/v1/participants/acme/presentations/query', {
    bearer: idToken,
    body: { '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', scope: ['org.eclipse.dspace.dcp.vc.type:MembershipCredential'] }
  })
}

/** did:web DIDs whose host is the trap, spelled in ways a naive loopback check misses. */
const trapDids = (): Array<[string, string]> => [
  ['IPv4-mapped IPv6 [::ffff:127.0.0.1]', `did:web:%5B%3A%3Affff%3A127.0.0.1%5D%3A${trapPort}:x`],
  ['IPv4-mapped IPv6, hex form [::ffff:7f00:1]', `did:web:%5B%3A%3Affff%3A7f00%3A1%5D%3A${trapPort}:x`],
  ['IPv4-compatible IPv6 [::127.0.0.1]', `did:web:%5B%3A%3A127.0.0.1%5D%3A${trapPort}:x`],
  ['NAT64 [64:ff9b::7f00:1]', `did:web:%5B64%3Aff9b%3A%3A7f00%3A1%5D%3A${trapPort}:x`],
  ['decimal IPv4 2130706433', `did:web:2130706433%3A${trapPort}:x`],
  ['hex/short IPv4 0x7f.1', `did:web:0x7f.1%3A${trapPort}:x`],
  ['localhost', `did:web:localhost%3A${trapPort}:x`],
  ['127.0.0.1', `did:web:127.0.0.1%3A${trapPort}:x`]
]

describe('deny mode: an anonymous presentation query cannot make the hub connect to loopback', () => {
  for (const vars of [{ HUB_OUTBOUND_LOOPBACK: 'deny' }, { HUB_OUTBOUND: 'deny' }]) {
    const label = Object.entries(vars).map(([k, v]) => `${k}=${v}`).join(' ')
    it(`${label}: every spelling of the trap's address in the ID token's did:web iss → 403 unresolvable_key, no connection`, async () => {
      await withEnv(vars, async () => {
        const srv = await orgServer()
        const acme = await holder(srv)
        for (const [what, iss] of trapDids()) {
          let r: ApiReply | undefined
          const seen = await connectionsDuring(async () => { r = await queryAs(srv, acme.did, iss) })
          expectRefused(r as ApiReply, 403, 'unresolvable_key')
          expect(r?.body.error.details.cause, what).toBe('unresolvable_did')
          expect(seen, `${what}: connections to the trap`).toBe(0)
        }
      })
    })
  }

  it('a did:web host NAME that resolves to 127.0.0.1 (injected lookup) is refused too: the resolved address is checked, no connection', async () => {
    await withEnv({ HUB_OUTBOUND: 'deny' }, async () => {
      const asked: string[] = []
      setOutboundLookup(async name => { asked.push(name); return [{ address: '127.0.0.1', family: 4 }] })
      const srv = await orgServer()
      const acme = await holder(srv)
      let r: ApiReply | undefined
      const seen = await connectionsDuring(async () => { r = await queryAs(srv, acme.did, `did:web:rebound.invalid%3A${trapPort}:x`) })
      expectRefused(r as ApiReply, 403, 'unresolvable_key')
      expect(asked).toEqual(['rebound.invalid'])
      expect(seen).toBe(0)
    })
  })

  it('sanity: with loopback allowed (the default on a loopback hub) the same queries DO reach the trap — the count is real', async () => {
    await withEnv({}, async () => {
      expect(outboundMode()).toBe('loopback')
      const srv = await orgServer()
      const acme = await holder(srv)
      setOutboundLookup(async () => [{ address: '127.0.0.1', family: 4 }])
      for (const iss of [`did:web:%5B%3A%3Affff%3A127.0.0.1%5D%3A${trapPort}:x`, `did:web:rebound.invalid%3A${trapPort}:x`]) {
        let r: ApiReply | undefined
        const seen = await connectionsDuring(async () => { r = await queryAs(srv, acme.did, iss) })
        expectRefused(r as ApiReply, 403, 'unresolvable_key') // the trap answers nothing
        expect(seen, iss).toBe(1)
      }
    })
  })

  it('link-local / metadata addresses are refused in the default mode too (name resolving to 169.254.169.254, mapped 169.254.169.254)', async () => {
    await withEnv({}, async () => {
      const srv = await orgServer()
      const acme = await holder(srv)
      const asked: string[] = []
      setOutboundLookup(async name => { asked.push(name); return [{ address: '169.254.169.254', family: 4 }] })
      expectRefused(await queryAs(srv, acme.did, 'did:web:metadata.invalid:x'), 403, 'unresolvable_key')
      expectRefused(await queryAs(srv, acme.did, 'did:web:%5B%3A%3Affff%3Aa9fe%3Aa9fe%5D:x'), 403, 'unresolvable_key')
      expect(asked).toEqual(['metadata.invalid'])
    })
  })
})

describe('deny mode: the other outbound paths', () => {
  it('status list: a list URL at [::ffff:127.0.0.1] leaves its credential out as unverifiable (bad_request), no connection', async () => {
    await withEnv({ HUB_OUTBOUND: 'deny' }, async () => {
      const checker = new StatusListChecker({ resolveDocument: async () => { throw new Error('not reached') } })
      const url = `https://[::ffff:127.0.0.1]:${trapPort}/status/1`
      let verdict: unknown
      const seen = await connectionsDuring(async () => {
        verdict = await checker.check({ id: 'urn:uuid:c1', issuer: 'did:web:issuer.example', credentialStatus: { id: `${url}#7`, type: 'BitstringStatusListEntry', statusPurpose: 'revocation', statusListIndex: '7', statusListCredential: url } })
      })
      expect(verdict).toMatchObject({ presentable: false, reason: 'unverifiable', code: 'bad_request', detail: expect.stringMatching(/loopback address/) })
      expect(seen).toBe(0)
    })
  })

  it('issuance delivery (postDcp): an endpoint at [::ffff:7f00:1], or a name resolving to loopback, is refused with forbidden_address, no connection', async () => {
    await withEnv({ HUB_OUTBOUND: 'deny' }, async () => {
      setOutboundLookup(async () => [{ address: '127.0.0.1', family: 4 }])
      const seen = await connectionsDuring(async () => {
        for (const url of [`https://[::ffff:7f00:1]:${trapPort}/cs/credentials`, `https://holder.invalid:${trapPort}/cs/credentials`]) {
          await expect(postDcp(url, { hello: 1 }, 'token'), url).rejects.toMatchObject({ code: 'bad_request', details: { reason: 'forbidden_address' } })
        }
      })
      expect(seen).toBe(0)
    })
  })

  it('Identity API: a service endpoint naming a refused address literal is rejected when written (400 forbidden_address)', async () => {
    const services = (endpoint: string): unknown => ({ id: `#cs-${randomUUID()}`, type: 'CredentialService', serviceEndpoint: endpoint })
    await withEnv({ HUB_OUTBOUND_LOOPBACK: 'deny' }, async () => {
      const srv = await orgServer()
      const acme = await holder(srv)
      for (const ep of [`https://[::ffff:127.0.0.1]:${trapPort}/cs`, `http://[::ffff:7f00:1]:${trapPort}/cs`, `http://127.0.0.1:${trapPort}/cs`, `http://localhost:${trapPort}/cs`, 'http://2130706433/cs', 'https://169.254.169.254/', 'https://[fe80::1]/cs', 'https://10.0.0.1/cs']) {
        expectRefused(await srv.api('POST', `${IDENTITY}/acme/did/services`, { key: acme.apiKey, body: services(ep) }), 400, 'forbidden_address')
      }
      // Creating a participant with such a service is refused the same way.
      expectRefused(await srv.api('POST', IDENTITY, { key: srv.adminKey, body: { participantId: 'evil', did: srv.did('evil'), services: [services(`https://[::ffff:127.0.0.1]:${trapPort}/cs`)] } }), 400, 'forbidden_address')
      expect((await srv.api('POST', `${IDENTITY}/acme/did/services`, { key: acme.apiKey, body: services('https://holder.example.com/cs') })).status).toBe(201)
      const doc = await srv.api('GET', `${IDENTITY}/acme/did`, { key: acme.apiKey })
      expect((doc.body.services as Array<{ serviceEndpoint: string }>).map(s => s.serviceEndpoint)).toEqual(['https://holder.example.com/cs'])
    })
    await withEnv({}, async () => {
      const srv = await orgServer()
      const acme = await holder(srv)
      expectRefused(await srv.api('POST', `${IDENTITY}/acme/did/services`, { key: acme.apiKey, body: services('http://169.254.169.254/latest') }), 400, 'forbidden_address')
      expect((await srv.api('POST', `${IDENTITY}/acme/did/services`, { key: acme.apiKey, body: services(`http://127.0.0.1:${trapPort}/cs`) })).status).toBe(201)
    })
  })
})

describe('the default follows where the HTTP server listens', () => {
  async function newHubDir (): Promise<string> {
    const dir = join(await tempDir('ssrf-daemon-'), 'hub')
    await Hub.init(dir)
    return dir
  }

  it('a daemon listening on 0.0.0.0 refuses loopback targets while it runs (no connection); the default comes back after it stops', async () => {
    await withEnv({}, async () => {
      const daemon = await Daemon.start({ dir: await newHubDir(), handlers: {}, http: { host: '0.0.0.0', port: 0 } })
      try {
        expect(outboundMode()).toBe('deny')
        const seen = await connectionsDuring(async () => {
          await expect(daemon.hub.resolveDocument(`did:web:127.0.0.1%3A${trapPort}:x`)).rejects.toThrow(/loopback address/)
          await expect(daemon.hub.resolveDocument(`did:web:%5B%3A%3Affff%3A127.0.0.1%5D%3A${trapPort}:x`)).rejects.toThrow(/loopback address/)
        })
        expect(seen).toBe(0)
      } finally {
        await daemon.shutdown()
      }
      expect(outboundMode()).toBe('loopback')
    })
  })

  it('HUB_OUTBOUND_LOOPBACK=allow (or HUB_OUTBOUND=loopback) keeps loopback allowed on 0.0.0.0; a daemon on 127.0.0.1 keeps the loopback default', async () => {
    for (const [vars, host] of [[{ HUB_OUTBOUND_LOOPBACK: 'allow' }, '0.0.0.0'], [{ HUB_OUTBOUND: 'loopback' }, '0.0.0.0'], [{}, '127.0.0.1']] as const) {
      await withEnv(vars, async () => {
        const daemon = await Daemon.start({ dir: await newHubDir(), handlers: {}, http: { host, port: 0 } })
        try {
          expect(outboundMode(), JSON.stringify(vars)).toBe('loopback')
          const seen = await connectionsDuring(async () => {
            await expect(daemon.hub.resolveDocument(`did:web:127.0.0.1%3A${trapPort}:x`)).rejects.toThrow(/did:web resolution failed/)
          })
          expect(seen).toBe(1)
        } finally {
          await daemon.shutdown()
        }
      })
    }
  })

  it('an unknown HUB_OUTBOUND value stops the daemon from starting (bad_request)', async () => {
    await withEnv({ HUB_OUTBOUND: 'everything' }, async () => {
      await expect(Daemon.start({ dir: await newHubDir(), handlers: {}, http: { host: '127.0.0.1', port: 0 } })).rejects.toMatchObject({ code: 'bad_request', details: { reason: 'bad_outbound_mode' } })
      expect(outboundMode()).toBe('deny') // and anything that runs regardless fails closed
    })
  })
})
