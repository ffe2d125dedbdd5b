/**
 * The organization commands of the built `hub` binary, in real processes:
 * `hub participant|keys|did|credentials|dcp …` forwarded to a daemon started
 * with `--http 127.0.0.1:0` (whose did:web documents, DCP endpoints and
 * Identity API are then reached with real HTTP requests), and the same
 * commands in-process when no daemon runs.
 *
 * A did:web DID names the HTTP port, so the daemon starts first and the
 * DIDs are made from the port in its ready line. Every daemon started here
 * is stopped with `hub stop` (and SIGKILLed in afterAll if a test failed
 * before that).
 */
import { generateKeyPairSync } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose'
import { verifyCredential, verifyPresentation } from 'did-jwt-vc'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDidResolver } from '../src/identity/resolver.js'
import { decodeJwt } from '../src/org/jwt.js'
import { isPidAlive } from '../src/daemon/files.js'
import { cleanup, tempDir } from './helpers.js'
import { BIN, hub, killAll, ok as okWith, running, startDaemon, type Daemon } from './cli-helpers.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CLI and HTTP replies are inspected field by field
type Json = any

const TYPE_SCOPE = 'org.eclipse.dspace.dcp.vc.type'
const DCP_CONTEXT = 'https://w3id.org/dspace-dcp/v1.0/dcp.jsonld'

const ok = async (args: string[]): Promise<Json> => await okWith(args)

/** A failed command: exit code 1, nothing on stdout, `{"error":{"code",…}}` on stderr. */
async function fails (args: string[], code: string): Promise<{ code: string, message: string }> {
  const r = await hub([...args, '--json'])
  expect(r.stdout, `stdout of hub ${args.join(' ')}`).toBe('')
  expect(r.code, `exit code of hub ${args.join(' ')}; stderr: ${r.stderr}`).toBe(1)
  const body = JSON.parse(r.stderr) as { error: { code: string, message: string } }
  expect(body.error.code).toBe(code)
  expect(typeof body.error.message).toBe('string')
  return body.error
}

async function mode (path: string): Promise<number> {
  return (await stat(path)).mode & 0o777
}

async function getStatus (url: string, init: RequestInit = {}): Promise<number> {
  const res = await fetch(url, init)
  await res.arrayBuffer()
  return res.status
}

/** Stop a daemon the way a user does and check it is really gone. */
async function stopDaemon (dir: string, d: Daemon): Promise<void> {
  expect(await ok(['stop', '--dir', dir])).toEqual({ stopped: true, pid: d.info.pid })
  expect(await d.exit).toBe(0)
  running.delete(d)
  expect(isPidAlive(d.info.pid)).toBe(false)
  expect(existsSync(join(dir, 'daemon.json'))).toBe(false)
}

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)')
})
afterAll(async () => {
  await killAll()
  await cleanup()
})

describe('hub org commands through a daemon with --http', { timeout: 120_000 }, () => {
  let dir: string
  let daemon: Daemon
  /** `http://127.0.0.1:PORT` */
  let url: string
  let did: (name: string) => string
  let adminKey: string

  beforeAll(async () => {
    dir = join(await tempDir('cli-org-'), 'hub')
    await ok(['init', '--dir', dir])
    daemon = await startDaemon(dir, ['--http', '127.0.0.1:0'])
    const http = daemon.info.http
    if (http === undefined) throw new Error(`the ready line has no http: ${JSON.stringify(daemon.info)}`)
    url = http.url
    const port = new URL(url).port
    did = (name) => `did:web:127.0.0.1%3A${port}:org:${name}`
    adminKey = (await readFile(http.adminKeyFile, 'utf8')).trim()
  })

  afterAll(async () => {
    if (running.has(daemon)) await stopDaemon(dir, daemon)
  })

  /**
   * An issuer and a holder, ACTIVATED, with the service endpoints DCP
   * issuance needs in their DID documents: created over the Identity API
   * (the services in the create body), so the CLI tests below start from a
   * state an operator's script would produce.
   */
  async function createIssuerAndHolder (issuerId: string, issuerDid: string, holderId: string, holderDid: string): Promise<void> {
    for (const [id, d, service] of [
      [issuerId, issuerDid, { id: '#issuer-service', type: 'IssuerService', serviceEndpoint: `${url}/api/issuance/v1/participants/${issuerId}` }],
      [holderId, holderDid, { id: '#credential-service', type: 'CredentialService', serviceEndpoint: `${url}/api/credentials/v1/participants/${holderId}` }]
    ] as const) {
      const res = await fetch(`${url}/api/identity/v1/participants`, {
        method: 'POST',
        headers: { 'x-api-key': adminKey, 'content-type': 'application/json' },
        body: JSON.stringify({ participantId: id, did: d, active: true, services: [service] })
      })
      expect(res.status).toBe(201)
      await res.arrayBuffer()
    }
  }

  it('hub status shows the HTTP URL and a 0600 admin key file whose key opens the Identity API', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const keyFile = join(dir, 'http-admin.key')
    const status = await ok(['status', '--dir', dir])
    expect(status).toMatchObject({ running: true, pid: daemon.info.pid, http: { url, adminKeyFile: keyFile } })
    expect(JSON.parse(await readFile(join(dir, 'daemon.json'), 'utf8')).http).toEqual({ url, adminKeyFile: keyFile })
    expect(await mode(keyFile)).toBe(0o600)
    expect(adminKey.length).toBeGreaterThanOrEqual(16)

    const res = await fetch(`${url}/api/identity/v1/participants`, { headers: { 'x-api-key': adminKey } })
    expect(res.status).toBe(200)
    expect(Array.isArray(await res.json())).toBe(true)
    expect(await getStatus(`${url}/api/identity/v1/participants`)).toBe(401)
    expect(await getStatus(`${url}/api/identity/v1/participants`, { headers: { 'x-api-key': adminKey + 'x' } })).toBe(401)
  })

  it('participant create, activate, list, deactivate, delete — and their errors', async () => {
    const acme = did('acme')
    const created = await ok(['participant', 'create', '--dir', dir, '--id', 'acme', '--did', acme])
    expect(created).toMatchObject({ participantId: 'acme', did: acme, state: 'CREATED', defaultKey: { keyId: 'key-1', kid: `${acme}#key-1` } })
    expect(typeof created.apiKey).toBe('string')
    expect(created.apiKey).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/)

    // The participant key reaches its own routes, not the admin ones.
    const own = await fetch(`${url}/api/identity/v1/participants/acme`, { headers: { 'x-api-key': created.apiKey } })
    expect(own.status).toBe(200)
    expect(await own.json()).toMatchObject({ participantId: 'acme', state: 'CREATED' })
    expect(await getStatus(`${url}/api/identity/v1/participants`, { headers: { 'x-api-key': created.apiKey } })).toBe(403)

    await fails(['participant', 'create', '--dir', dir, '--id', 'acme', '--did', did('acme-2')], 'already_exists')
    await fails(['participant', 'create', '--dir', dir, '--id', 'acme-2', '--did', acme], 'already_exists')
    await fails(['participant', 'create', '--dir', dir, '--id', 'bad', '--did', 'did:key:z6Mk'], 'bad_request')
    await fails(['participant', 'create', '--dir', dir, '--did', did('x')], 'bad_request')
    await fails(['participant', 'activate', '--dir', dir, 'nobody'], 'not_found')
    await fails(['participant', 'deactivate', '--dir', dir, 'acme'], 'conflict') // CREATED → DEACTIVATED is not a transition

    // Human mode, as in the docs: exit 0, the context on stdout.
    const human = await hub(['participant', 'activate', '--dir', dir, 'acme'])
    expect(human.stderr).toBe('')
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('ACTIVATED')
    await fails(['participant', 'activate', '--dir', dir, 'acme'], 'conflict')

    const list = (await ok(['participant', 'list', '--dir', dir])).items as Json[]
    expect(list.find(p => p.participantId === 'acme')).toMatchObject({ participantId: 'acme', did: acme, state: 'ACTIVATED' })
    expect(list.every(p => p.apiKey === undefined && p.apiKeyHash === undefined)).toBe(true)

    expect(await ok(['participant', 'deactivate', '--dir', dir, 'acme'])).toMatchObject({ participantId: 'acme', state: 'DEACTIVATED' })
    await fails(['participant', 'deactivate', '--dir', dir, 'acme'], 'conflict')
    expect(await ok(['participant', 'activate', '--dir', dir, '--participant', 'acme'])).toMatchObject({ state: 'ACTIVATED' })

    expect(await ok(['participant', 'delete', '--dir', dir, 'acme'])).toEqual({ participantId: 'acme', deleted: true })
    await fails(['participant', 'delete', '--dir', dir, 'acme'], 'not_found')
    await fails(['keys', 'list', '--dir', dir, '--participant', 'acme'], 'not_found')
    expect(((await ok(['participant', 'list', '--dir', dir])).items as Json[]).some(p => p.participantId === 'acme')).toBe(false)
    // The deleted context's key opens nothing any more, and its id and DID are free again.
    expect(await getStatus(`${url}/api/identity/v1/participants/acme`, { headers: { 'x-api-key': created.apiKey } })).toBe(401)
    expect(await ok(['participant', 'create', '--dir', dir, '--id', 'acme', '--did', acme])).toMatchObject({ state: 'CREATED' })
    await ok(['participant', 'delete', '--dir', dir, 'acme'])
  })

  it('did show / publish / unpublish; the document is served over HTTP only while published and ACTIVATED', async () => {
    const webco = did('webco')
    const docUrl = `${url}/org/webco/did.json`
    await ok(['participant', 'create', '--dir', dir, '--id', 'webco', '--did', webco])

    const doc = await ok(['did', 'show', '--dir', dir, '--participant', 'webco'])
    expect(doc.id).toBe(webco)
    expect(doc.verificationMethod).toEqual([expect.objectContaining({ id: `${webco}#key-1`, type: 'JsonWebKey2020', controller: webco })])
    expect(doc.assertionMethod).toEqual([`${webco}#key-1`])
    await fails(['did', 'show', '--dir', dir, '--participant', 'nobody'], 'not_found')
    // Without --participant, `hub did` is still the owner's did:key document.
    expect((await ok(['did', 'show', '--dir', dir])).id).toBe(daemon.info.did)

    expect(await getStatus(docUrl)).toBe(404) // CREATED: unpublished and not ACTIVATED
    expect(await ok(['did', 'publish', '--dir', dir, '--participant', 'webco'])).toMatchObject({ did: webco, state: 'PUBLISHED' })
    expect(await getStatus(docUrl)).toBe(404) // published, but not ACTIVATED

    await ok(['participant', 'activate', '--dir', dir, 'webco'])
    const res = await fetch(docUrl)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/did\+json/)
    expect(await res.json()).toEqual(doc)

    expect(await ok(['did', 'unpublish', '--dir', dir, '--participant', 'webco'])).toMatchObject({ state: 'UNPUBLISHED' })
    expect(await getStatus(docUrl)).toBe(404) // ACTIVATED, but unpublished
    await ok(['did', 'publish', '--dir', dir, '--participant', 'webco'])
    expect(await getStatus(docUrl)).toBe(200)

    await ok(['participant', 'deactivate', '--dir', dir, 'webco']) // unpublishes
    expect(await getStatus(docUrl)).toBe(404)
    await ok(['did', 'publish', '--dir', dir, '--participant', 'webco'])
    expect(await getStatus(docUrl)).toBe(404) // published, but DEACTIVATED
    await ok(['participant', 'activate', '--dir', dir, 'webco'])
    expect(await getStatus(docUrl)).toBe(200)

    // Service endpoints, added and removed from the CLI, show in the served document.
    const svc = await ok(['did', 'add-service', '--dir', dir, '--participant', 'webco', '--id', '#credential-service', '--type', 'CredentialService', '--endpoint', `${url}/api/credentials/v1/participants/webco`])
    expect(svc).toEqual({ id: `${webco}#credential-service`, type: 'CredentialService', serviceEndpoint: `${url}/api/credentials/v1/participants/webco` })
    expect(((await (await fetch(docUrl)).json()) as { service: unknown }).service).toEqual([svc])
    await fails(['did', 'add-service', '--dir', dir, '--participant', 'webco', '--id', '#credential-service', '--type', 'CredentialService', '--endpoint', url], 'already_exists')
    await fails(['did', 'add-service', '--dir', dir, '--participant', 'webco', '--id', '#x', '--type', 'X', '--endpoint', 'not a url'], 'bad_request')
    expect(await ok(['did', 'remove-service', '#credential-service', '--dir', dir, '--participant', 'webco'])).toEqual({ removed: '#credential-service' })
    expect(((await (await fetch(docUrl)).json()) as { service: unknown }).service).toEqual([])
    await fails(['did', 'remove-service', '#credential-service', '--dir', dir, '--participant', 'webco'], 'not_found')

    await ok(['participant', 'delete', '--dir', dir, 'webco'])
    expect(await getStatus(docUrl)).toBe(404)
  })

  it('keys list / create / activate / rotate / revoke, with imported public keys', async () => {
    const keyco = did('keyco')
    const P = ['--dir', dir, '--participant', 'keyco']
    await ok(['participant', 'create', '--dir', dir, '--id', 'keyco', '--did', keyco, '--active'])
    const served = async (): Promise<string[]> => {
      const res = await fetch(`${url}/org/keyco/did.json`)
      expect(res.status).toBe(200)
      return ((await res.json() as Json).verificationMethod as Json[]).map(m => m.id as string)
    }
    const states = async (): Promise<Record<string, string>> =>
      Object.fromEntries(((await ok(['keys', 'list', ...P])).items as Json[]).map(k => [k.keyId, `${k.state}${k.isDefault === true ? '*' : ''}${k.hasPrivateKey === true ? '' : ' (public only)'}`]))

    const [first] = (await ok(['keys', 'list', ...P])).items as Json[]
    expect(first).toMatchObject({ participantId: 'keyco', keyId: 'key-1', kid: `${keyco}#key-1`, state: 'ACTIVATED', isDefault: true, hasPrivateKey: true, publicKeyJwk: { kty: 'OKP', crv: 'Ed25519' } })
    expect(first.publicKeyJwk.d).toBeUndefined()

    // A generated key starts CREATED: stored, not published, not signing.
    expect(await ok(['keys', 'create', ...P, '--key-id', 'key-2'])).toMatchObject({ keyId: 'key-2', state: 'CREATED', isDefault: false, hasPrivateKey: true })
    expect(await served()).toEqual([`${keyco}#key-1`])
    expect(await ok(['keys', 'activate', 'key-2', ...P])).toMatchObject({ keyId: 'key-2', state: 'ACTIVATED' })
    expect(await served()).toEqual([`${keyco}#key-1`, `${keyco}#key-2`])
    await fails(['keys', 'activate', 'key-2', ...P], 'conflict')
    await fails(['keys', 'activate', 'key-9', ...P], 'not_found')
    await fails(['keys', 'create', ...P, '--key-id', 'key-2'], 'already_exists')
    await fails(['keys', 'activate', 'key-2', '--dir', dir, '--participant', 'nobody'], 'not_found')
    await fails(['keys', 'activate', ...P], 'bad_request') // no KEY_ID

    // Rotation with a named successor: the successor is ACTIVATED and inherits the default role.
    const r1 = await ok(['keys', 'rotate', 'key-1', ...P, '--successor', 'key-3'])
    expect(r1.rotated).toMatchObject({ keyId: 'key-1', state: 'ROTATED', isDefault: false, hasPrivateKey: false, successor: 'key-3' })
    expect(r1.successor).toMatchObject({ keyId: 'key-3', state: 'ACTIVATED', isDefault: true, hasPrivateKey: true })
    // Rotation without options: a generated successor.
    const r2 = await ok(['keys', 'rotate', 'key-3', ...P])
    expect(r2.rotated).toMatchObject({ keyId: 'key-3', state: 'ROTATED' })
    expect(r2.successor).toMatchObject({ state: 'ACTIVATED', isDefault: true, hasPrivateKey: true })
    const generated = r2.successor.keyId as string
    expect(['key-1', 'key-2', 'key-3']).not.toContain(generated)
    // --no-successor: just rotated.
    const r3 = await ok(['keys', 'rotate', 'key-2', ...P, '--no-successor'])
    expect(r3.rotated).toMatchObject({ keyId: 'key-2', state: 'ROTATED' })
    expect(r3.successor).toBeUndefined()
    expect(r3.rotated.successor).toBeUndefined()
    await fails(['keys', 'rotate', 'key-2', ...P], 'conflict')
    // ROTATED keys stay verification methods; the newest one signs.
    expect(await served()).toEqual([`${keyco}#key-1`, `${keyco}#key-2`, `${keyco}#key-3`, `${keyco}#${generated}`])
    const token = await ok(['dcp', 'token', ...P, '--audience', did('someone'), '--scope', `${TYPE_SCOPE}:MembershipCredential`])
    expect(decodeJwt(token.idToken as string).header.kid).toBe(`${keyco}#${generated}`)

    // Revocation removes the verification method.
    expect(await ok(['keys', 'revoke', 'key-2', ...P])).toMatchObject({ keyId: 'key-2', state: 'REVOKED', hasPrivateKey: false })
    await fails(['keys', 'revoke', 'key-2', ...P], 'conflict')
    expect(await served()).toEqual([`${keyco}#key-1`, `${keyco}#key-3`, `${keyco}#${generated}`])

    // Importing public keys (Ed25519 and P-256): no private key here, CREATED unless --activate.
    const work = await tempDir('cli-org-keys-')
    const ed = join(work, 'ed25519.jwk')
    await writeFile(ed, JSON.stringify(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })))
    const p256Jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' })
    const p256 = join(work, 'p256.jwk')
    await writeFile(p256, JSON.stringify(p256Jwk))
    expect(await ok(['keys', 'create', ...P, '--key-id', 'ext-ed', '--public-key', ed])).toMatchObject({ keyId: 'ext-ed', state: 'CREATED', hasPrivateKey: false, isDefault: false, publicKeyJwk: { kty: 'OKP', crv: 'Ed25519' } })
    expect(await ok(['keys', 'create', ...P, '--key-id', 'ext-p256', '--public-key', p256, '--activate'])).toMatchObject({ keyId: 'ext-p256', state: 'ACTIVATED', hasPrivateKey: false, publicKeyJwk: { kty: 'EC', crv: 'P-256', x: p256Jwk.x, y: p256Jwk.y } })
    expect(await served()).toContain(`${keyco}#ext-p256`)
    expect(await served()).not.toContain(`${keyco}#ext-ed`)
    // The hub cannot sign with an imported key: the generated one still signs.
    const token2 = await ok(['dcp', 'token', ...P, '--audience', did('someone'), '--scope', `${TYPE_SCOPE}:MembershipCredential`])
    expect(decodeJwt(token2.idToken as string).header.kid).toBe(`${keyco}#${generated}`)

    // A private JWK, garbage, or a missing file are refused.
    const priv = join(work, 'private.jwk')
    await writeFile(priv, JSON.stringify(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' })))
    await fails(['keys', 'create', ...P, '--public-key', priv], 'bad_request')
    const garbage = join(work, 'garbage.jwk')
    await writeFile(garbage, 'not json')
    await fails(['keys', 'create', ...P, '--public-key', garbage], 'bad_request')
    expect((await fails(['keys', 'create', ...P, '--public-key', join(work, 'missing.jwk')], 'bad_request')).message).toContain('ENOENT')

    expect(await states()).toEqual({
      'key-1': 'ROTATED (public only)',
      'key-2': 'REVOKED (public only)',
      'key-3': 'ROTATED (public only)',
      [generated]: 'ACTIVATED*',
      'ext-ed': 'CREATED (public only)',
      'ext-p256': 'ACTIVATED (public only)'
    })
  })

  it('credentials add / list and the DCP flow: tokens from the CLI, a real presentation query over HTTP', async () => {
    const [issuerDid, acmeDid, betaDid] = [did('issuer'), did('acme'), did('beta')]
    for (const [id, d] of [['issuer', issuerDid], ['acme', acmeDid], ['beta', betaDid]] as const) {
      await ok(['participant', 'create', '--dir', dir, '--id', id, '--did', d])
      await ok(['participant', 'activate', '--dir', dir, id])
    }

    // The issuer's signing key is held outside the hub (here: by the test); the hub gets its public half.
    const work = await tempDir('cli-org-vc-')
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
    const jwkFile = join(work, 'issuer.jwk')
    await writeFile(jwkFile, JSON.stringify(await exportJWK(publicKey)))
    expect(await ok(['keys', 'create', '--dir', dir, '--participant', 'issuer', '--key-id', 'vc-signing', '--public-key', jwkFile, '--activate']))
      .toMatchObject({ kid: `${issuerDid}#vc-signing`, state: 'ACTIVATED', hasPrivateKey: false })

    const now = Math.floor(Date.now() / 1000)
    const sign = async (key: CryptoKey, kid: string, subject: string, jti: string, type = 'MembershipCredential'): Promise<string> =>
      await new SignJWT({
        vc: {
          '@context': ['https://www.w3.org/2018/credentials/v1'],
          type: ['VerifiableCredential', type],
          credentialSubject: { id: subject, memberOf: 'the dataspace' }
        }
      })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid })
        .setIssuer(issuerDid)
        .setSubject(subject)
        .setJti(jti)
        .setNotBefore(now - 60)
        .setIssuedAt(now - 60)
        .setExpirationTime(now + 3600)
        .sign(key)
    const credentialId = 'urn:uuid:5f0c1d2e-3a4b-4c5d-8e6f-708192a3b4c5'
    const vc = await sign(privateKey, `${issuerDid}#vc-signing`, acmeDid, credentialId)
    const vcFile = join(work, 'membership.jwt')
    await writeFile(vcFile, vc + '\n')

    const added = await ok(['credentials', 'add', '--dir', dir, '--participant', 'acme', '--jwt', vcFile])
    expect(added).toEqual({ credentialId, types: ['VerifiableCredential', 'MembershipCredential'], issuer: issuerDid })
    await fails(['credentials', 'add', '--dir', dir, '--participant', 'acme', '--jwt', vcFile], 'already_exists')

    // Refused: signed by a key the issuer's document does not list; about someone else; not a VC; no file.
    const other = await generateKeyPair('EdDSA', { crv: 'Ed25519' })
    const forged = join(work, 'forged.jwt')
    await writeFile(forged, await sign(other.privateKey, `${issuerDid}#vc-signing`, acmeDid, 'urn:uuid:forged'))
    await fails(['credentials', 'add', '--dir', dir, '--participant', 'acme', '--jwt', forged], 'bad_request')
    const elsewhere = join(work, 'elsewhere.jwt')
    await writeFile(elsewhere, await sign(privateKey, `${issuerDid}#vc-signing`, betaDid, 'urn:uuid:for-beta'))
    await fails(['credentials', 'add', '--dir', dir, '--participant', 'acme', '--jwt', elsewhere], 'bad_request')
    const notVc = join(work, 'not-a-vc.jwt')
    await writeFile(notVc, 'a.b.c')
    await fails(['credentials', 'add', '--dir', dir, '--participant', 'acme', '--jwt', notVc], 'bad_request')
    await fails(['credentials', 'add', '--dir', dir, '--participant', 'acme'], 'bad_request')
    await fails(['credentials', 'add', '--dir', dir, '--participant', 'acme', '--jwt', join(work, 'missing.jwt')], 'bad_request')

    const listed = (await ok(['credentials', 'list', '--dir', dir, '--participant', 'acme'])).items as Json[]
    expect(listed).toEqual([expect.objectContaining({ credentialId, participantId: 'acme', types: ['VerifiableCredential', 'MembershipCredential'], issuer: issuerDid, subjectId: acmeDid, state: 'ISSUED' })])
    expect(listed[0].raw).toBeUndefined()
    expect((await ok(['credentials', 'list', '--dir', dir, '--participant', 'acme', '--type', 'MembershipCredential'])).items).toHaveLength(1)
    expect((await ok(['credentials', 'list', '--dir', dir, '--participant', 'acme', '--type', 'OrganizationCredential'])).items).toEqual([])
    expect((await ok(['credentials', 'list', '--dir', dir, '--participant', 'beta'])).items).toEqual([])

    // 1. The holder grants the verifier a scope: an access token inside its own ID token.
    const holder = await ok(['dcp', 'token', '--dir', dir, '--participant', 'acme', '--audience', betaDid, '--scope', `${TYPE_SCOPE}:MembershipCredential`])
    expect(holder).toEqual({ idToken: expect.any(String), accessToken: expect.any(String), expiresIn: 300 })
    expect(decodeJwt(holder.accessToken as string).payload).toMatchObject({ iss: acmeDid, aud: acmeDid, sub: betaDid, scope: `${TYPE_SCOPE}:MembershipCredential` })
    expect(decodeJwt(holder.idToken as string).payload).toMatchObject({ iss: acmeDid, sub: acmeDid, aud: betaDid, token: holder.accessToken })

    // 2. The verifier wraps that access token in its own ID token for the holder.
    const verifierToken = async (): Promise<string> => {
      const v = await ok(['dcp', 'token', '--dir', dir, '--participant', 'beta', '--audience', acmeDid, '--token', holder.accessToken as string])
      expect(v).toEqual({ idToken: expect.any(String), expiresIn: 300 })
      expect(decodeJwt(v.idToken as string).payload).toMatchObject({ iss: betaDid, sub: betaDid, aud: acmeDid, token: holder.accessToken })
      return v.idToken as string
    }
    const query = async (bearer: string, types: string[]): Promise<{ status: number, body: Json }> => {
      const res = await fetch(`${url}/api/credentials/v1/participants/acme/presentations/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify({ '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', scope: types.map(t => `${TYPE_SCOPE}:${t}`) })
      })
      return { status: res.status, body: await res.json() }
    }

    // 3. The verifier queries the holder over HTTP.
    const idToken = await verifierToken()
    const answer = await query(idToken, ['MembershipCredential'])
    expect(answer.status).toBe(200)
    expect(answer.body).toMatchObject({ '@context': [DCP_CONTEXT], type: 'PresentationResponseMessage' })
    expect(answer.body.presentation).toHaveLength(1)
    const vp = answer.body.presentation[0] as string
    const vpPayload = decodeJwt(vp).payload as Json
    expect(vpPayload).toMatchObject({ iss: acmeDid, aud: betaDid, vp: { holder: acmeDid, verifiableCredential: [vc] } })

    // An independent verifier (did-jwt-vc) resolving both DIDs over real did:web HTTP agrees.
    const resolver = createDidResolver()
    const verified = await verifyPresentation(vp, resolver, { audience: betaDid })
    expect(verified.verified).toBe(true)
    expect(verified.signer.id).toBe(`${acmeDid}#key-1`)
    expect(verified.verifiablePresentation.verifiableCredential?.[0]?.proof).toMatchObject({ jwt: vc })
    const verifiedVc = await verifyCredential(vc, resolver)
    expect(verifiedVc.verified).toBe(true)
    expect(verifiedVc.issuer).toBe(issuerDid)
    expect(verifiedVc.signer.id).toBe(`${issuerDid}#vc-signing`)

    // The same ID token again is a replay; a type the access token does not grant is an escalation.
    expect(await query(idToken, ['MembershipCredential'])).toMatchObject({ status: 403, body: { error: { code: 'permissions_required', details: { reason: 'replayed' } } } })
    expect(await query(await verifierToken(), ['OrganizationCredential'])).toMatchObject({ status: 403, body: { error: { details: { reason: 'scope_escalation' } } } })
    expect(await query(await verifierToken(), ['MembershipCredential'])).toMatchObject({ status: 200 })

    // Token errors from the CLI.
    await fails(['dcp', 'token', '--dir', dir, '--participant', 'acme', '--audience', 'not-a-did', '--scope', `${TYPE_SCOPE}:X`], 'bad_request')
    await fails(['dcp', 'token', '--dir', dir, '--participant', 'acme', '--audience', betaDid, '--scope', `${TYPE_SCOPE}:X`, '--token', 'a.b.c'], 'bad_request')
    await fails(['dcp', 'token', '--dir', dir, '--participant', 'nobody', '--audience', betaDid, '--scope', `${TYPE_SCOPE}:X`], 'not_found')
    await ok(['participant', 'deactivate', '--dir', dir, 'beta'])
    await fails(['dcp', 'token', '--dir', dir, '--participant', 'beta', '--audience', acmeDid, '--token', holder.accessToken as string], 'conflict')
    await ok(['participant', 'activate', '--dir', dir, 'beta'])

    // A credential without a kid (did-jwt-vc's default): its key is found among the issuer's assertionMethod keys.
    const kidless = join(work, 'kidless.jwt')
    await writeFile(kidless, await new SignJWT({ vc: { '@context': ['https://www.w3.org/2018/credentials/v1'], type: ['VerifiableCredential', 'KidlessCredential'], credentialSubject: { id: acmeDid } } })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' }).setIssuer(issuerDid).setSubject(acmeDid).setJti('urn:uuid:kidless').setNotBefore(now - 60).setExpirationTime(now + 3600).sign(privateKey))
    expect(await ok(['credentials', 'add', '--dir', dir, '--participant', 'acme', '--jwt', kidless])).toMatchObject({ credentialId: 'urn:uuid:kidless', issuer: issuerDid })
    // …and one signed by a key the issuer does not list is refused with its reason.
    const kidlessForged = join(work, 'kidless-forged.jwt')
    await writeFile(kidlessForged, await new SignJWT({ vc: { '@context': ['https://www.w3.org/2018/credentials/v1'], type: ['VerifiableCredential', 'KidlessCredential'], credentialSubject: { id: acmeDid } } })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' }).setIssuer(issuerDid).setSubject(acmeDid).setJti('urn:uuid:kidless-forged').setNotBefore(now - 60).setExpirationTime(now + 3600).sign(other.privateKey))
    await fails(['credentials', 'add', '--dir', dir, '--participant', 'acme', '--jwt', kidlessForged], 'bad_request')
    expect((await ok(['credentials', 'list', '--dir', dir, '--participant', 'acme', '--type', 'KidlessCredential'])).items).toEqual([expect.objectContaining({ credentialId: 'urn:uuid:kidless' })])
  })

  it('issuance define / list / requests / delete and credentials request / requests: a DCP issuance through the daemon', async () => {
    const [issuerDid, holderDid] = [did('cissuer'), did('cholder')]
    await createIssuerAndHolder('cissuer', issuerDid, 'cholder', holderDid)

    const def = await ok(['issuance', 'define', '--dir', dir, '--participant', 'cissuer', '--id', 'member', '--type', 'MembershipCredential', '--holder', holderDid, '--validity', '3600', '--claims', '{"tier":"gold"}'])
    expect(def).toMatchObject({ id: 'member', credentialType: 'MembershipCredential', validitySeconds: 3600, holders: [holderDid], claims: { tier: 'gold' } })
    expect((await ok(['issuance', 'list', '--dir', dir, '--participant', 'cissuer'])).items).toEqual([expect.objectContaining({ id: 'member' })])
    await fails(['issuance', 'define', '--dir', dir, '--participant', 'cissuer', '--id', 'member', '--type', 'MembershipCredential'], 'already_exists')
    await fails(['issuance', 'define', '--dir', dir, '--participant', 'cissuer', '--id', 'other'], 'bad_request')
    expect(await ok(['issuance', 'define', '--dir', dir, '--participant', 'cissuer', '--id', 'member2', '--type', 'MembershipCredential', '--data-model', '2.0']))
      .toMatchObject({ id: 'member2', dataModel: '2.0' })
    await fails(['issuance', 'define', '--dir', dir, '--participant', 'cissuer', '--id', 'member3', '--type', 'MembershipCredential', '--data-model', '3.0'], 'bad_request')
    await fails(['issuance', 'define', '--dir', dir, '--participant', 'cissuer', '--id', 'other', '--type', 'T', '--claims', 'not json'], 'bad_request')
    await fails(['credentials', 'request', '--dir', dir, '--participant', 'cholder', '--issuer', issuerDid], 'bad_request')

    const sent = await ok(['credentials', 'request', '--dir', dir, '--participant', 'cholder', '--issuer', issuerDid, '--definition', 'member'])
    expect(sent).toMatchObject({ participantId: 'cholder', issuerDid, credentials: ['member'], issuerPid: expect.any(String) })
    let rec: Json = sent
    for (let i = 0; i < 50 && rec.status !== 'ISSUED'; i++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      rec = await ok(['credentials', 'requests', '--dir', dir, '--participant', 'cholder', sent.holderPid as string])
    }
    expect(rec).toMatchObject({ status: 'ISSUED', issuerPid: sent.issuerPid, credentialIds: [expect.stringMatching(/^urn:uuid:/)] })
    expect((await ok(['credentials', 'requests', '--dir', dir, '--participant', 'cholder'])).items).toEqual([expect.objectContaining({ holderPid: sent.holderPid })])
    await fails(['credentials', 'requests', '--dir', dir, '--participant', 'cholder', 'nope'], 'not_found')
    const held = (await ok(['credentials', 'list', '--dir', dir, '--participant', 'cholder', '--type', 'MembershipCredential'])).items as Json[]
    expect(held).toEqual([expect.objectContaining({ credentialId: (rec.credentialIds as string[])[0], issuer: issuerDid, subjectId: holderDid })])
    expect((await ok(['issuance', 'requests', '--dir', dir, '--participant', 'cissuer'])).items).toEqual([expect.objectContaining({ issuerPid: sent.issuerPid, holderDid, status: 'ISSUED', delivered: true })])

    expect(await ok(['issuance', 'delete', 'member', '--dir', dir, '--participant', 'cissuer'])).toEqual({ participantId: 'cissuer', definitionId: 'member', deleted: true })
    await fails(['issuance', 'delete', 'member', '--dir', dir, '--participant', 'cissuer'], 'not_found')
  })

  it('issuance define --status-list / issued / revoke: a revocable credential, its served status list, and its revocation', async () => {
    const [issuerDid, holderDid] = [did('rissuer'), did('rholder')]
    await createIssuerAndHolder('rissuer', issuerDid, 'rholder', holderDid)
    expect(await ok(['issuance', 'define', '--dir', dir, '--participant', 'rissuer', '--id', 'member', '--type', 'MembershipCredential', '--status-list'])).toMatchObject({ id: 'member', statusList: true })
    expect((await ok(['issuance', 'issued', '--dir', dir, '--participant', 'rissuer'])).items).toEqual([])

    const sent = await ok(['credentials', 'request', '--dir', dir, '--participant', 'rholder', '--issuer', issuerDid, '--definition', 'member'])
    let rec: Json = sent
    for (let i = 0; i < 50 && rec.status !== 'ISSUED'; i++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      rec = await ok(['credentials', 'requests', '--dir', dir, '--participant', 'rholder', sent.holderPid as string])
    }
    expect(rec.status).toBe('ISSUED')
    const credentialId = (rec.credentialIds as string[])[0] as string

    const issued = (await ok(['issuance', 'issued', '--dir', dir, '--participant', 'rissuer'])).items as Json[]
    expect(issued).toEqual([expect.objectContaining({ credentialId, holderDid, definitionId: 'member', index: 0, revoked: false })])
    const listUrl = issued[0].statusListCredential as string
    expect(listUrl.startsWith(`${url}/api/issuance/v1/participants/rissuer/status/`)).toBe(true)

    const revoked = await ok(['issuance', 'revoke', credentialId, '--dir', dir, '--participant', 'rissuer'])
    expect(revoked).toMatchObject({ credentialId, revoked: true })
    expect(await ok(['issuance', 'revoke', credentialId, '--dir', dir, '--participant', 'rissuer'])).toEqual(revoked)
    await fails(['issuance', 'revoke', 'urn:uuid:nope', '--dir', dir, '--participant', 'rissuer'], 'not_found')
    await fails(['issuance', 'revoke', '--dir', dir, '--participant', 'rissuer'], 'bad_request')

    // The daemon serves the list with the bit set (first bit: the most significant of the first byte).
    const res = await fetch(listUrl)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/vc+jwt')
    const { payload } = decodeJwt(await res.text())
    const encoded = ((payload.vc as Json).credentialSubject as Json).encodedList as string
    const { gunzipSync } = await import('node:zlib')
    expect(gunzipSync(Buffer.from(encoded.slice(1), 'base64url'))[0]).toBe(0x80)
  })

  it('a second hub start reuses the admin key', async () => {
    const keyFile = join(dir, 'http-admin.key')
    await stopDaemon(dir, daemon)
    expect(await ok(['status', '--dir', dir])).toEqual({ running: false })
    expect((await readFile(keyFile, 'utf8')).trim()).toBe(adminKey)

    daemon = await startDaemon(dir, ['--http', '127.0.0.1:0'])
    expect(daemon.info.http?.adminKeyFile).toBe(keyFile)
    expect((await readFile(keyFile, 'utf8')).trim()).toBe(adminKey)
    expect(await mode(keyFile)).toBe(0o600)
    const res = await fetch(`${daemon.info.http?.url ?? ''}/api/identity/v1/participants`, { headers: { 'x-api-key': adminKey } })
    expect(res.status).toBe(200)
    // State survived the restart.
    expect((await res.json() as Json[]).map(p => p.participantId)).toEqual(expect.arrayContaining(['acme', 'beta', 'issuer', 'keyco']))
    // The afterAll stops this one.
  })
})

describe('hub org commands without a daemon (in-process)', { timeout: 120_000 }, () => {
  let dir: string

  beforeAll(async () => {
    dir = join(await tempDir('cli-org-solo-'), 'hub')
    await ok(['init', '--dir', dir])
  })

  it('participant create / list and keys list / create / rotate run in-process', async () => {
    expect(await ok(['status', '--dir', dir])).toEqual({ running: false })
    const soloDid = 'did:web:127.0.0.1%3A8080:org:solo'
    const created = await ok(['participant', 'create', '--dir', dir, '--id', 'solo', '--did', soloDid])
    expect(created).toMatchObject({ participantId: 'solo', did: soloDid, state: 'CREATED' })
    expect(typeof created.apiKey).toBe('string')
    await fails(['participant', 'create', '--dir', dir, '--id', 'solo', '--did', soloDid], 'already_exists')
    await fails(['participant', 'activate', '--dir', dir, 'nobody'], 'not_found')

    expect((await ok(['participant', 'list', '--dir', dir])).items).toEqual([expect.objectContaining({ participantId: 'solo', did: soloDid, state: 'CREATED' })])
    expect((await ok(['keys', 'list', '--dir', dir, '--participant', 'solo'])).items).toEqual([expect.objectContaining({ keyId: 'key-1', state: 'ACTIVATED', isDefault: true })])
    await ok(['keys', 'create', '--dir', dir, '--participant', 'solo', '--key-id', 'key-2'])
    expect((await ok(['keys', 'rotate', 'key-1', '--dir', dir, '--participant', 'solo', '--successor', 'key-3'])).successor).toMatchObject({ keyId: 'key-3', isDefault: true })
    expect((await ok(['did', 'show', '--dir', dir, '--participant', 'solo'])).id).toBe(soloDid)
    expect(await ok(['participant', 'activate', '--dir', dir, 'solo'])).toMatchObject({ state: 'ACTIVATED' })

    // Nothing was left running, and a daemon started now sees the same state.
    expect(existsSync(join(dir, 'daemon.json'))).toBe(false)
    const d = await startDaemon(dir)
    try {
      expect(d.info.http).toBeUndefined()
      expect(existsSync(join(dir, 'http-admin.key'))).toBe(false) // no --http, no admin key
      expect(((await ok(['keys', 'list', '--dir', dir, '--participant', 'solo'])).items as Json[]).map(k => `${k.keyId as string}:${k.state as string}`))
        .toEqual(['key-1:ROTATED', 'key-2:CREATED', 'key-3:ACTIVATED'])
    } finally {
      await stopDaemon(dir, d)
    }
  })
})
