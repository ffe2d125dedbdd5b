/**
 * The dashboard's login and API without a browser (issue 16): the one-time
 * link, the session cookie's attributes, and every way in a hostile party
 * might try — no cookie, a forged one, an expired session, another
 * session's CSRF token, a cross-site POST, an oversized body, unknown ids,
 * a login token guessed, replayed or too old. Each refusal has its stable
 * code and reason, and changes nothing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as A from '@automerge/automerge'
import { cleanup, playlist } from './helpers.js'
import { founder, stopAll } from './net-helpers.js'
import { api, closeDashboards, dashboardServer } from './dashboard-helpers.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'

const CTX = 'https://schema.org'

afterEach(async () => {
  await closeDashboards()
  await stopAll()
  await cleanup()
})

describe('dashboard login', () => {
  it('a one-time link opens a session: 303 to /dashboard/, an HttpOnly SameSite=Strict cookie on /dashboard; reused or wrong, 401 and no cookie', async () => {
    const a = await founder()
    const d = await dashboardServer(a)
    const link = d.link()
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dashboard\/login\?token=[A-Za-z0-9_-]{43}$/)
    const res = await fetch(link, { redirect: 'manual' })
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/dashboard/')
    const cookie = res.headers.get('set-cookie') ?? ''
    expect(cookie).toMatch(/^hub_dashboard=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/dashboard; Max-Age=43200$/)
    expect(cookie).not.toContain('Secure')
    const session = await api(d.url, 'GET', '/session', { cookie: cookie.split(';')[0] as string })
    expect(session.status).toBe(200)
    expect(session.body).toMatchObject({ did: a.hub.did, hubDid: a.hub.hubDid })

    const again = await fetch(link, { redirect: 'manual' })
    expect(again.status).toBe(401)
    expect(again.headers.get('set-cookie')).toBeNull()
    expect(await again.text()).toContain('wrong, expired or already used')
    const wrong = await fetch(link.replace(/token=.{5}/, 'token=AAAAA'), { redirect: 'manual' })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('set-cookie')).toBeNull()
    for (const bad of ['', '?token=', '?token=short', `?token=${'A'.repeat(43)}&token=${'B'.repeat(43)}`]) {
      const r = await fetch(`${d.url}/dashboard/login${bad}`, { redirect: 'manual' })
      expect(r.status, bad).toBe(401)
      expect(r.headers.get('set-cookie')).toBeNull()
    }
    expect(d.dashboard.sessions.size).toBe(1)
  })

  it('a link older than 5 minutes is refused; a session ends after 30 idle minutes or 12 hours', async () => {
    let now = Date.parse('2026-06-01T10:00:00Z')
    const a = await founder()
    const d = await dashboardServer(a, { now: () => now })
    const stale = d.link()
    now += 5 * 60_000
    expect((await fetch(stale, { redirect: 'manual' })).status).toBe(401)

    const { cookie } = await d.login()
    now += 29 * 60_000
    expect((await api(d.url, 'GET', '/collections', { cookie })).status).toBe(200)
    now += 30 * 60_000
    const idle = await api(d.url, 'GET', '/collections', { cookie })
    expect(idle.status).toBe(401)
    expect(idle.body.error).toMatchObject({ code: 'authentication_failed', details: { reason: 'session_expired' } })
    // Gone for good: the next call does not even know the session.
    expect((await api(d.url, 'GET', '/collections', { cookie })).body.error?.details?.reason).toBe('no_session')

    const busy = await d.login()
    for (let i = 0; i < 25; i++) {
      now += 29 * 60_000
      const r = await api(d.url, 'GET', '/session', { cookie: busy.cookie })
      if (i < 24) expect(r.status, `after ${(i + 1) * 29} min`).toBe(200)
      else expect(r.body.error?.details?.reason).toBe('session_expired')
    }
  })

  it('the cookie is Secure when a loopback proxy says the browser came over HTTPS', async () => {
    const a = await founder()
    const d = await dashboardServer(a)
    const res = await fetch(d.link(), { redirect: 'manual', headers: { 'x-forwarded-proto': 'https' } })
    expect(res.status).toBe(303)
    expect(res.headers.get('set-cookie')).toMatch(/; Secure$/)
  })

  it('failed logins are rate-limited per client (429 before the token is looked at)', async () => {
    const a = await founder()
    const d = await dashboardServer(a, { limits: { authFailures: { ratePerSecond: 0.001, burst: 3 } } })
    const good = d.link()
    for (let i = 0; i < 3; i++) expect((await fetch(`${d.url}/dashboard/login?token=${'x'.repeat(43)}`, { redirect: 'manual' })).status).toBe(401)
    const limited = await fetch(good, { redirect: 'manual' })
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).not.toBeNull()
    expect(limited.headers.get('set-cookie')).toBeNull()
  })

  it('sessions die with the server: a new server on the same hub knows no old cookie', async () => {
    const a = await founder()
    const d = await dashboardServer(a)
    const { cookie } = await d.login()
    await d.close()
    const d2 = await dashboardServer(a)
    const r = await api(d2.url, 'GET', '/collections', { cookie })
    expect(r.status).toBe(401)
    expect(r.body.error?.details?.reason).toBe('no_session')
  })
})

describe('dashboard API refusals', () => {
  it('nothing under /dashboard/api works without the session: no cookie, a forged one, a cookie of another name', async () => {
    const a = await founder()
    const d = await dashboardServer(a)
    await d.login()
    for (const [method, path] of [['GET', '/collections'], ['GET', '/objects'], ['GET', '/audit'], ['GET', '/events'], ['GET', '/session'], ['GET', '/no/such/route'], ['POST', '/grants'], ['DELETE', '/grants/x']] as const) {
      for (const cookie of [undefined, 'hub_dashboard=' + 'A'.repeat(43), 'other=1', 'hub_dashboard=']) {
        const r = await api(d.url, method, path, { ...(cookie !== undefined ? { cookie } : {}), body: method === 'POST' ? {} : undefined })
        expect(r.status, `${method} ${path} ${String(cookie)}`).toBe(401)
        expect(r.body.error).toMatchObject({ code: 'authentication_failed', details: { reason: 'no_session' } })
      }
    }
  })

  it('a state-changing call needs this session\'s CSRF token and a same-origin request; refused ones grant nothing', async () => {
    const a = await founder()
    const d = await dashboardServer(a)
    const me = await d.login()
    const other = await d.login()
    const body = { grantee: Ed25519KeyPair.generate().did, context: CTX, type: 'MusicPlaylist', allow: '-R--' }
    const tries: Array<[string, Parameters<typeof api>[3], string]> = [
      ['no token', { cookie: me.cookie, body }, 'bad_csrf'],
      ['another session\'s token', { cookie: me.cookie, csrf: other.csrf, body }, 'bad_csrf'],
      ['a wrong token', { cookie: me.cookie, csrf: me.csrf.slice(1) + 'x', body }, 'bad_csrf'],
      ['a cross-site Origin', { cookie: me.cookie, csrf: me.csrf, origin: 'https://evil.example', body }, 'cross_site'],
      ['an Origin on another port', { cookie: me.cookie, csrf: me.csrf, origin: d.url.replace(/:\d+$/, ':1'), body }, 'cross_site'],
      ['no Origin, no Sec-Fetch-Site', { cookie: me.cookie, csrf: me.csrf, origin: null, body }, 'cross_site'],
      ['no Origin, Sec-Fetch-Site cross-site', { cookie: me.cookie, csrf: me.csrf, origin: null, headers: { 'sec-fetch-site': 'cross-site' }, body }, 'cross_site'],
      ['the token in a cross-site form POST', { cookie: me.cookie, origin: 'https://evil.example', raw: `x-csrf-token=${me.csrf}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 'cross_site']
    ]
    for (const [what, o, reason] of tries) {
      const r = await api(d.url, 'POST', '/grants', o)
      expect(r.status, what).toBe(401)
      expect(r.body.error?.details?.reason, what).toBe(reason)
    }
    expect(a.hub.permissions.list()).toEqual([])
    // The same call, done right, grants; Sec-Fetch-Site same-origin stands in for a missing Origin.
    const ok = await api(d.url, 'POST', '/grants', { cookie: me.cookie, csrf: me.csrf, body })
    expect(ok.status).toBe(200)
    const ok2 = await api(d.url, 'POST', '/grants', { cookie: other.cookie, csrf: other.csrf, origin: null, headers: { 'sec-fetch-site': 'same-origin' }, body: { ...body, allow: 'CR--' } })
    expect(ok2.status).toBe(200)
    expect(a.hub.permissions.list().map(g => g.allow).sort()).toEqual(['-R--', 'CR--'])
    // Logging out ends that session only.
    expect((await api(d.url, 'POST', '/logout', { cookie: me.cookie, csrf: me.csrf })).status).toBe(200)
    expect((await api(d.url, 'GET', '/grants', { cookie: me.cookie })).body.error?.details?.reason).toBe('no_session')
    expect((await api(d.url, 'GET', '/grants', { cookie: other.cookie })).status).toBe(200)
  })

  it('bad input is a typed error and changes nothing: oversized or malformed bodies, unknown fields, a bad grant, unknown ids', async () => {
    const a = await founder()
    const d = await dashboardServer(a)
    const s = await d.login()
    const w = { cookie: s.cookie, csrf: s.csrf }
    const grantee = Ed25519KeyPair.generate().did
    const big = await api(d.url, 'POST', '/grants', { ...w, raw: JSON.stringify({ grantee, context: CTX, type: 'T', allow: '-R--', pad: 'x'.repeat(20_000) }) })
    expect(big.status).toBe(413)
    expect(big.body.error?.code).toBe('too_large')
    const cases: Array<[string, Parameters<typeof api>[3], number, string]> = [
      ['not JSON', { ...w, raw: '{"grantee":' }, 400, 'bad_request'],
      ['an array', { ...w, raw: '[]' }, 400, 'bad_request'],
      ['an unknown field', { ...w, body: { grantee, context: CTX, type: 'T', allow: '-R--', admin: true } }, 400, 'bad_request'],
      ['a bad CRUD string', { ...w, body: { grantee, context: CTX, type: 'T', allow: 'RRRR' } }, 400, 'bad_request'],
      ['no rights at all', { ...w, body: { grantee, context: CTX, type: 'T', allow: '----' } }, 400, 'bad_request'],
      ['not a DID', { ...w, body: { grantee: 'mallory', context: CTX, type: 'T', allow: '-R--' } }, 400, 'bad_request'],
      ['an expiry in the past', { ...w, body: { grantee, context: CTX, type: 'T', allow: '-R--', expiresAt: '2001-01-01T00:00:00Z' } }, 400, 'bad_request'],
      ['a grant for the owner', { ...w, body: { grantee: a.hub.did, context: CTX, type: 'T', allow: '-R--' } }, 400, 'bad_request']
    ]
    for (const [what, o, status, code] of cases) {
      const r = await api(d.url, 'POST', '/grants', o)
      expect(r.status, what).toBe(status)
      expect(r.body.error?.code, what).toBe(code)
    }
    expect(a.hub.permissions.list()).toEqual([])

    const unknownObject = 'b' + 'a'.repeat(58)
    expect((await api(d.url, 'GET', `/objects/${unknownObject}`, w)).body.error?.code).toBe('not_found')
    expect((await api(d.url, 'GET', `/objects/${unknownObject}/history`, w)).body.error?.code).toBe('not_found')
    expect((await api(d.url, 'GET', '/objects/not-an-id', w)).body.error?.code).toBe('bad_request')
    expect((await api(d.url, 'GET', '/grants/nope/preview', w)).body.error?.code).toBe('not_found')
    expect((await api(d.url, 'DELETE', '/grants/nope', w)).status).toBeGreaterThanOrEqual(400)
    expect((await api(d.url, 'DELETE', `/devices/${Ed25519KeyPair.generate().did}`, w)).status).toBeGreaterThanOrEqual(400)
    expect((await api(d.url, 'GET', '/org/participants/nobody/keys', w)).body.error?.code).toBe('not_found')
    const route = await api(d.url, 'GET', '/no/such/route', w)
    expect(route.status).toBe(404)
    expect(route.body.error?.details?.reason).toBe('no_route')
    expect((await api(d.url, 'PUT', '/grants', w)).status).toBe(400)
    expect((await api(d.url, 'GET', '/objects?limit=abc', w)).body.error?.details?.reason).toBe('bad_query')
    expect((await api(d.url, 'GET', '/objects?sort=a&sort=b', w)).body.error?.details?.reason).toBe('bad_query')
    expect((await api(d.url, 'GET', '/objects?sort=sideways', w)).body.error?.code).toBe('bad_request')
    expect(a.hub.permissions.list()).toEqual([])
  })

  it('only the page\'s own files are served, each with the strict CSP', async () => {
    const a = await founder()
    const d = await dashboardServer(a)
    const page = await fetch(`${d.url}/dashboard/`)
    expect(page.status).toBe(200)
    const csp = page.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("connect-src 'self'")
    expect(csp).not.toContain('unsafe-inline')
    expect(await page.text()).not.toMatch(/<script>(?!<)/)
    expect((await fetch(`${d.url}/dashboard`, { redirect: 'manual' })).status).toBe(301)
    for (const p of ['/dashboard/../package.json', '/dashboard/%2e%2e/package.json', '/dashboard/index.html', '/dashboard/main.ts', '/dashboard/.env']) {
      expect((await fetch(`${d.url}${p}`)).status, p).toBe(404)
    }
  })
})

describe('dashboard API data', () => {
  it('collections with counts, objects paged by cursor with search and sort, value, history, diff, export as Automerge', async () => {
    const a = await founder()
    const d = await dashboardServer(a)
    const s = await d.login()
    for (let i = 0; i < 7; i++) await a.hub.collections.create(playlist(`P${i}`, i % 2 === 0 ? ['a'] : ['a', 'b']))
    const { objectId } = await a.hub.collections.create(playlist('Edited', ['one']))
    await a.hub.collections.update(objectId, playlist('Edited', ['one', 'two']))

    const cols = await api(d.url, 'GET', '/collections', s)
    expect(cols.body.items).toEqual([expect.objectContaining({ context: CTX, type: 'MusicPlaylist', objects: 8, encrypted: false })])
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const r = await api(d.url, 'GET', `/objects?context=${encodeURIComponent(CTX)}&type=MusicPlaylist&limit=3&sort=created${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, s)
      expect(r.status).toBe(200)
      seen.push(...(r.body.items as Array<{ value: { name: string } }>).map(o => o.value.name))
      cursor = r.body.cursor as string | null
    } while (cursor !== null)
    expect(seen).toEqual(['P0', 'P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'Edited'])
    const found = await api(d.url, 'GET', `/objects?context=${encodeURIComponent(CTX)}&type=MusicPlaylist&where=${encodeURIComponent('name=P3')}`, s)
    expect((found.body.items as unknown[]).length).toBe(1)

    const hist = await api(d.url, 'GET', `/objects/${objectId}/history`, s)
    expect((hist.body.commits as Array<{ signer: string }>).map(c => c.signer)).toEqual([a.hub.did, a.hub.did])
    const diff = await api(d.url, 'GET', `/objects/${objectId}/diff`, s)
    expect(diff.body.changes).toEqual([
      { path: 'numTracks', kind: 'changed', before: 1, after: 2 },
      { path: 'track.1', kind: 'added', after: expect.objectContaining({ name: 'two' }) }
    ])
    const bad = await api(d.url, 'GET', `/objects/${objectId}/diff?from=nope`, s)
    expect(bad.body.error).toMatchObject({ code: 'not_found', details: { reason: 'unknown_commit' } })

    const exp = await fetch(`${d.url}/dashboard/api/objects/${objectId}/export`, { headers: { cookie: s.cookie } })
    expect(exp.headers.get('content-type')).toBe('application/octet-stream')
    const doc = A.load<{ name: unknown }>(new Uint8Array(await exp.arrayBuffer()))
    expect(String(doc.name)).toBe('Edited')
  })

  it('revoke preview says what the grantee loses and changes nothing; the revoke itself does', async () => {
    const a = await founder()
    const d = await dashboardServer(a)
    const s = await d.login()
    const app = Ed25519KeyPair.generate()
    await a.hub.collections.create(playlist('Secret'), { encrypt: true })
    const { grantId } = await a.hub.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    const p = await api(d.url, 'GET', `/grants/${grantId}/preview`, s)
    expect(p.body).toMatchObject({ alreadyRevoked: false, cutsSubscriptions: true, rotatesKey: true })
    expect((p.body.loses as string[]).join(' ')).toMatch(/subscription.*new content key/s)
    expect(a.hub.permissions.list()[0]?.active).toBe(true)
    const r = await api(d.url, 'DELETE', `/grants/${grantId}`, s)
    expect(r.body).toMatchObject({ grantId, alreadyRevoked: false })
    expect(a.hub.permissions.list()[0]?.revokedAt).not.toBeNull()
    expect((await api(d.url, 'GET', `/grants/${grantId}/preview`, s)).body).toMatchObject({ alreadyRevoked: true })
  })

  it('a device invite comes with its QR code as SVG', async () => {
    const a = await founder()
    const d = await dashboardServer(a)
    const s = await d.login()
    const r = await api(d.url, 'POST', '/devices/invite', { ...s, body: { role: 'owner-device', ttlSeconds: 300 } })
    expect(r.status).toBe(200)
    expect(r.body.invite).toEqual(expect.any(String))
    expect(r.body.qrSvg).toMatch(/^<svg[\s\S]*<\/svg>$/)
    expect((await api(d.url, 'POST', '/devices/invite', { ...s, body: { role: 'king' } })).body.error?.code).toBe('bad_request')
  })

  it('diffs an encrypted object with the hub\'s own keys', async () => {
    const a = await founder()
    const d = await dashboardServer(a)
    const s = await d.login()
    const { objectId } = await a.hub.collections.create({ '@context': CTX, '@type': 'Diary', text: 'first' }, { encrypt: true })
    await a.hub.collections.change(objectId, doc => { doc.text = 'second' })
    const r = await api(d.url, 'GET', `/objects/${objectId}/diff`, s)
    expect(r.body.changes).toEqual([{ path: 'text', kind: 'changed', before: 'first', after: 'second' }])
  })

  it('the event stream sends changes and new audit entries to the session, and ends with it', async () => {
    const a = await founder()
    const d = await dashboardServer(a)
    const s = await d.login()
    const res = await fetch(`${d.url}/dashboard/api/events`, { headers: { cookie: s.cookie } })
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    const until = async (re: RegExp): Promise<void> => {
      while (!re.test(text)) {
        const { value, done } = await reader.read()
        if (done === true) throw new Error(`the stream ended before ${String(re)}: ${text}`)
        text += new TextDecoder().decode(value)
      }
    }
    await until(/event: sync\n/)
    const { objectId } = await a.hub.collections.create(playlist('Live'))
    await until(new RegExp(`event: change\\ndata: [^\\n]*"objectId":"${objectId}"`))
    // A stranger's denied request lands in the audit log, and on the stream.
    await a.hub.audit.append({ caller: Ed25519KeyPair.generate().did, interface: 'Collections', method: 'read', target: objectId, decision: 'denied', code: 'permissions_required' })
    await until(/event: audit\ndata: [^\n]*"decision":"denied"/)
    await api(d.url, 'POST', '/logout', s)
    for (;;) {
      const { done } = await reader.read()
      if (done === true) break
    }
  })
})
