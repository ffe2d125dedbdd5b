/**
 * `npm run example:dataspace`: a dataspace in one hub. Three organizations
 * — an issuer, a holder (acme) and a verifier (beta) — are participant
 * contexts of one hub daemon, and talk to each other only through its real
 * HTTP endpoints, as they would across the network:
 *
 *   - the operator creates them with the Identity API (admin key from the
 *     file the daemon wrote);
 *   - the issuer keeps its signing key to itself (here: in this process);
 *     the hub only knows the public half, imported as the issuer's key pair.
 *     It signs a MembershipCredential for acme and delivers it with the DCP
 *     Storage API, authenticated by its own self-issued ID token;
 *   - acme grants beta access with its token service (STS); beta gets its
 *     own ID token carrying that grant, resolves acme's did:web document
 *     over HTTP, finds its CredentialService and queries it;
 *   - beta verifies the presentation and the credential in it against the
 *     DID documents it fetched, with nothing but `jose` underneath
 *     (`verifyDidJwt`);
 *   - then the negatives: a scope that was not granted (403), and what key
 *     rotation (old presentations still verify) and revocation (they stop
 *     verifying) mean for a verifier.
 *
 * Nothing is mocked: the daemon is the built `hub` CLI in its own process,
 * with its own LevelDB in a temporary directory that is removed at the end,
 * also after a failure or Ctrl-C. Exits non-zero if any check fails.
 */
import '../../src/shim.js'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomUUID } from 'node:crypto'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import type { DaemonInfo } from '../../src/daemon/files.js'
import type { DidDocument } from '../../src/identity/did-key.js'
import { didWebUrl, KeyResolver } from '../../src/identity/resolver.js'
import { decodeJwt, verifyDidJwt } from '../../src/org/jwt.js'
import { STEPS } from './steps.js'

/** The built CLI next to this file's build output: dist/examples/dataspace → dist/src/cli. */
const HUB_BIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))
const TYPE_SCOPE = 'org.eclipse.dspace.dcp.vc.type'
const DCP_CONTEXT = 'https://w3id.org/dspace-dcp/v1.0/dcp.jsonld'
const VC_CONTEXT = 'https://www.w3.org/2018/credentials/v1'
const STOP_TIMEOUT_MS = 10_000

// ── output ────────────────────────────────────────────────────────────────

let stepNo = 0
function step (): void {
  const title = STEPS[stepNo++]
  if (title === undefined) throw new Error('more steps than STEPS lists')
  console.log(`\n${stepNo}. ${title}`)
}

function info (label: string, value: string): void {
  console.log(`   ${label.padEnd(10)} ${value}`)
}

/** Print a ✓ line, or stop the example with the reason. */
function check (condition: boolean, text: string): void {
  if (!condition) throw new Error(`check failed: ${text}`)
  console.log(`   ✓ ${text}`)
}

/** DIDs by the participant names they belong to, for readable token summaries. */
const names = new Map<string, string>()

/** A JWT as a one-line summary of what matters in it. */
function token (jwt: string): string {
  const { header, payload: p } = decodeJwt(jwt)
  const who = (v: unknown): string => typeof v === 'string' ? names.get(v) ?? v : String(v)
  const parts = [`iss ${who(p.iss)}`, `sub ${who(p.sub)}`, `aud ${who(p.aud)}`]
  if (typeof p.scope === 'string') parts.push(`scope …:${p.scope.split(':').pop() ?? ''}`)
  if (typeof p.token === 'string') parts.push('token <access token>')
  if (typeof p.exp === 'number' && typeof p.iat === 'number') parts.push(`${p.exp - p.iat} s`)
  parts.push(`kid #${String(header.kid).split('#').pop() ?? ''}`)
  return `${parts.join(', ')} (${jwt.length} chars)`
}

// ── the daemon, a real process ───────────────────────────────────────────

interface DaemonProcess { child: ChildProcess, info: DaemonInfo, exit: Promise<number | null> }

function alive (child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null
}

/** One `hub … --json` command; its JSON output, or an error with its stderr. */
async function hub (args: string[]): Promise<unknown> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HUB_BIN, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    child.on('error', reject)
    child.on('close', code => {
      if (code === 0) resolve(JSON.parse(stdout) as unknown)
      else reject(new Error(`hub ${args.join(' ')} exited with ${String(code)}: ${stderr.trim()}`))
    })
  })
}

/**
 * `hub start --http 127.0.0.1:0` in the background; resolves with its ready
 * line (the content of daemon.json). Detached into its own process group,
 * so a Ctrl-C in the terminal reaches only this example, which then stops
 * the daemon itself (exactly once).
 */
async function startDaemon (dir: string): Promise<DaemonProcess> {
  const child = spawn(process.execPath, [HUB_BIN, 'start', '--dir', dir, '--http', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const exit = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  started = { child, exit }
  let stdout = ''
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  const info = await new Promise<DaemonInfo>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the daemon was not ready within 30 s: ${stderr.trim()}`)), 30_000)
    child.stdout?.on('data', (b: Buffer) => {
      stdout += b.toString()
      const nl = stdout.indexOf('\n')
      if (nl >= 0) {
        clearTimeout(timer)
        try {
          resolve(JSON.parse(stdout.slice(0, nl)) as DaemonInfo)
        } catch (err) {
          reject(err as Error)
        }
      }
    })
    void exit.then(code => {
      clearTimeout(timer)
      reject(new Error(`hub start exited with ${String(code)}: ${stderr.trim()}`))
    })
  })
  return { child, exit, info }
}

/** The daemon process, from the moment it is spawned (before it is ready), for cleanup(). */
let started: Omit<DaemonProcess, 'info'> | undefined
let root: string | undefined
let cleaning: Promise<void> | undefined

/** Stop the daemon (SIGTERM: a clean shutdown; SIGKILL if it hangs) and remove the temp dir. Idempotent. */
async function cleanup (): Promise<void> {
  cleaning ??= (async () => {
    const d = started
    if (d !== undefined && alive(d.child)) {
      d.child.kill('SIGTERM')
      const timeout = new Promise<'timeout'>(resolve => setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS).unref())
      if (await Promise.race([d.exit, timeout]) === 'timeout' && alive(d.child)) {
        d.child.kill('SIGKILL')
        await d.exit
      }
    }
    if (root !== undefined) await rm(root, { recursive: true, force: true })
  })()
  await cleaning
}

/** Ctrl-C: stop cleanly. A second one: stop now, but still leave nothing behind. */
let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) {
      if (started !== undefined && alive(started.child)) started.child.kill('SIGKILL')
      if (root !== undefined) rmSync(root, { recursive: true, force: true })
      process.exit(130)
    }
    interrupted = true
    console.error(`\n${signal}: stopping the daemon and removing ${root ?? 'the temp dir'}`)
    void cleanup().finally(() => process.exit(130))
  })
}

// ── HTTP ──────────────────────────────────────────────────────────────────

interface Reply { status: number, body: unknown }

async function http (method: string, url: string, opts: { apiKey?: string, bearer?: string, body?: unknown } = {}): Promise<Reply> {
  const headers: Record<string, string> = {}
  if (opts.apiKey !== undefined) headers['x-api-key'] = opts.apiKey
  if (opts.bearer !== undefined) headers.authorization = `Bearer ${opts.bearer}`
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(url, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) })
  const text = await res.text()
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) as unknown }
}

/** A request that must answer `status`; its body. */
async function expectHttp<T> (status: number, method: string, url: string, opts: Parameters<typeof http>[2] = {}): Promise<T> {
  const r = await http(method, url, opts)
  if (r.status !== status) throw new Error(`${method} ${url} answered ${r.status}, expected ${status}: ${JSON.stringify(r.body)}`)
  return r.body as T
}

interface Created { participantId: string, did: string, apiKey: string, state: string }
interface Tokens { idToken: string, accessToken?: string }
interface ErrorBody { error?: { code?: string, message?: string, details?: { reason?: string } } }

// ── the flow ──────────────────────────────────────────────────────────────

async function main (): Promise<void> {
  if (!existsSync(HUB_BIN)) throw new Error(`${HUB_BIN} is missing: run "npm run build" first (npm run example:dataspace does)`)
  root = await mkdtemp(join(tmpdir(), 'identity-hub-dataspace-'))
  const dir = join(root, 'hub')

  step() // 1
  await hub(['init', '--dir', dir])
  const d = await startDaemon(dir)
  if (d.info.http === undefined) throw new Error('the daemon reports no HTTP server')
  const base = d.info.http.url
  const adminKey = (await readFile(d.info.http.adminKeyFile, 'utf8')).trim()
  const port = new URL(base).port
  const did = (name: string): string => `did:web:127.0.0.1%3A${port}:org:${name}`
  const identity = `${base}/api/identity/v1`
  info('hub dir', dir)
  info('daemon', `pid ${d.info.pid}, ${base}`)
  info('admin key', `${d.info.http.adminKeyFile} (the operator's key to the Identity API)`)
  check(Array.isArray(await expectHttp(200, 'GET', `${identity}/participants`, { apiKey: adminKey })), 'the admin key opens the Identity API')

  step() // 2
  // The issuer's signing key never enters the hub: it generates it, and the hub gets the public half.
  const issuerKey = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
  const issuerPublicJwk = await exportJWK(issuerKey.publicKey)
  const create = async (participantId: string, extra: Record<string, unknown> = {}): Promise<Created> =>
    await expectHttp<Created>(201, 'POST', `${identity}/participants`, { apiKey: adminKey, body: { participantId, did: did(participantId), active: true, ...extra } })
  const issuer = await create('issuer', { key: { keyId: 'vc-signing', publicKeyJwk: issuerPublicJwk } })
  const acme = await create('acme')
  const beta = await create('beta')
  for (const p of [issuer, acme, beta]) {
    names.set(p.did, p.participantId)
    info(p.participantId, `${p.did} ${p.state}`)
  }
  check([issuer, acme, beta].every(p => p.state === 'ACTIVATED'), 'all three are ACTIVATED, each with its own API key')
  const issuerKeys = await expectHttp<Array<{ keyId: string, hasPrivateKey: boolean }>>(200, 'GET', `${identity}/participants/issuer/keypairs`, { apiKey: issuer.apiKey })
  check(issuerKeys.length === 1 && issuerKeys[0]?.keyId === 'vc-signing' && !issuerKeys[0].hasPrivateKey, 'the issuer\'s only key pair is its imported public key: the hub cannot sign as the issuer')

  step() // 3
  const credentialService = `${base}/api/credentials/v1/participants/acme`
  await expectHttp(201, 'POST', `${identity}/participants/acme/did/services`, {
    apiKey: acme.apiKey,
    body: { id: '#credential-service', type: 'CredentialService', serviceEndpoint: credentialService }
  })
  info('service', `CredentialService → ${credentialService}`)
  const published = await expectHttp<DidDocument>(200, 'GET', didWebUrl(acme.did))
  check(published.service?.some(s => s.type === 'CredentialService') === true, `published at ${didWebUrl(acme.did)}`)

  step() // 4
  const now = Math.floor(Date.now() / 1000)
  const credentialId = `urn:uuid:${randomUUID()}`
  const vc = await new SignJWT({
    vc: {
      '@context': [VC_CONTEXT],
      type: ['VerifiableCredential', 'MembershipCredential'],
      credentialSubject: { id: acme.did, memberOf: 'the example dataspace', since: new Date(now * 1000).toISOString().slice(0, 10) }
    }
  })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: `${issuer.did}#vc-signing` })
    .setIssuer(issuer.did)
    .setSubject(acme.did)
    .setJti(credentialId)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + 365 * 86_400)
    .sign(issuerKey.privateKey)
  info('credential', `${credentialId} (JWT VC, ${vc.length} chars, signed with ${issuer.did}#vc-signing)`)
  // The Storage API authenticates the issuer by its self-issued ID token, addressed to the holder.
  const issuerIdToken = await new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: `${issuer.did}#vc-signing` })
    .setIssuer(issuer.did)
    .setSubject(issuer.did)
    .setAudience(acme.did)
    .setJti(`urn:uuid:${randomUUID()}`)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(issuerKey.privateKey)
  // This issuer signs outside any request of acme's, so acme trusts it first: the Storage API
  // takes unsolicited credentials only from trusted issuers (403 unsolicited otherwise).
  await expectHttp(200, 'PUT', `${identity}/participants/acme/credentials/offer-policy`, { apiKey: acme.apiKey, body: { trustedIssuers: [issuer.did] } })
  const stored = await expectHttp<{ stored: string[] }>(200, 'POST', `${credentialService}/credentials`, {
    bearer: issuerIdToken,
    body: {
      '@context': [DCP_CONTEXT],
      type: 'CredentialMessage',
      issuerPid: `issuance-${randomUUID()}`,
      holderPid: 'acme',
      status: 'ISSUED',
      credentials: [{ credentialType: 'MembershipCredential', format: 'jwt', payload: vc }]
    }
  })
  check(stored.stored.length === 1 && stored.stored[0] === credentialId, 'delivered with a CredentialMessage; the hub checked the issuer\'s signature and stored it')
  const held = await expectHttp<Array<{ credentialId: string, state: string }>>(200, 'GET', `${identity}/participants/acme/credentials?type=MembershipCredential`, { apiKey: acme.apiKey })
  check(held.length === 1 && held[0]?.state === 'ISSUED', 'acme holds it')

  step() // 5
  const scope = `${TYPE_SCOPE}:MembershipCredential`
  const acmeTokens = await expectHttp<Tokens>(200, 'POST', `${base}/api/sts/token`, { apiKey: acme.apiKey, body: { audience: beta.did, scope: [scope] } })
  if (acmeTokens.accessToken === undefined) throw new Error('the STS returned no access token')
  info('access', token(acmeTokens.accessToken))
  info('ID token', token(acmeTokens.idToken))
  info('', 'acme sends this ID token to beta (in DSP: with its request)')
  check(decodeJwt(acmeTokens.accessToken).payload.sub === beta.did, 'the access token is for beta only')

  // Everything beta learns from here on, it learns over HTTP: did:web documents, the DCP endpoint.
  const resolver = new KeyResolver()
  const resolve = async (d: string): Promise<DidDocument> => await resolver.resolveDocument(d)

  step() // 6
  const fromAcme = await verifyDidJwt(acmeTokens.idToken, resolve)
  const claims = fromAcme.payload
  check(fromAcme.did === acme.did && claims.sub === acme.did, `signed by ${fromAcme.kid}, resolved over HTTP`)
  check(claims.aud === beta.did && typeof claims.exp === 'number' && claims.exp > Date.now() / 1000, 'addressed to beta, not expired')
  const accessToken = claims.token
  if (typeof accessToken !== 'string') throw new Error('acme\'s ID token carries no access token')
  check(accessToken === acmeTokens.accessToken, 'it carries acme\'s access token (opaque to beta)')
  const betaToken = async (): Promise<string> =>
    (await expectHttp<Tokens>(200, 'POST', `${base}/api/sts/token`, { apiKey: beta.apiKey, body: { audience: acme.did, token: accessToken } })).idToken
  const betaIdToken = await betaToken()
  info('ID token', token(betaIdToken))

  step() // 7
  const acmeDoc = await resolve(acme.did)
  info('GET', didWebUrl(acme.did))
  const endpoint = acmeDoc.service?.find(s => s.type === 'CredentialService')?.serviceEndpoint
  if (typeof endpoint !== 'string') throw new Error('acme\'s DID document lists no CredentialService')
  check(endpoint === credentialService, `CredentialService ${endpoint}`)
  const queryUrl = `${endpoint}/presentations/query`
  const presentationQuery = (types: string[]): Record<string, unknown> =>
    ({ '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', scope: types.map(t => `${TYPE_SCOPE}:${t}`) })
  info('POST', queryUrl)
  const response = await expectHttp<{ type: string, presentation: unknown[] }>(200, 'POST', queryUrl, { bearer: betaIdToken, body: presentationQuery(['MembershipCredential']) })
  const vp = response.presentation[0]
  check(response.type === 'PresentationResponseMessage' && response.presentation.length === 1 && typeof vp === 'string', 'a PresentationResponseMessage with one JWT VP')
  if (typeof vp !== 'string') throw new Error('unreachable')

  step() // 8
  const checkVp = async (): Promise<string> => {
    const v = await verifyDidJwt(vp, resolve)
    const p = v.payload
    const inner = (p.vp as { holder?: string, verifiableCredential?: unknown[] } | undefined)
    if (v.did !== acme.did || p.aud !== beta.did || inner?.holder !== acme.did) throw new Error('the VP is not acme\'s presentation for beta')
    return v.kid
  }
  const vpKid = await checkVp()
  check(vpKid === `${acme.did}#key-1`, `VP signed by ${vpKid}, holder acme, audience beta`)
  const vpExp = decodeJwt(vp).payload.exp
  check(typeof vpExp === 'number' && vpExp > Date.now() / 1000, `valid until ${new Date(Number(vpExp) * 1000).toISOString()}`)
  const presented = (decodeJwt(vp).payload.vp as { verifiableCredential?: unknown[] }).verifiableCredential ?? []
  check(presented.length === 1 && presented[0] === vc, 'it holds exactly the credential the issuer signed, byte for byte')
  const vcCheck = await verifyDidJwt(vc, resolve)
  const vcClaims = vcCheck.payload as { iss?: string, sub?: string, exp?: number, vc?: { type?: string[] } }
  check(vcCheck.did === issuer.did && vcClaims.iss === issuer.did, `VC signed by ${vcCheck.kid} (the issuer's own key, resolved over HTTP)`)
  check(vcClaims.sub === acme.did && vcClaims.vc?.type?.includes('MembershipCredential') === true, 'a MembershipCredential about acme')
  check(typeof vcClaims.exp === 'number' && vcClaims.exp > Date.now() / 1000, 'not expired')

  step() // 9
  const denied = await http('POST', queryUrl, { bearer: await betaToken(), body: presentationQuery(['OrganizationCredential']) })
  const reason = (denied.body as ErrorBody).error?.details?.reason
  info('scope', `${TYPE_SCOPE}:OrganizationCredential`)
  check(denied.status === 403 && reason === 'scope_escalation', `${denied.status} ${String(reason)}: the access token grants MembershipCredential only`)

  step() // 10
  const rotated = await expectHttp<{ rotated: { state: string }, successor?: { keyId: string } }>(200, 'POST', `${identity}/participants/acme/keypairs/key-1/rotate`, {
    apiKey: acme.apiKey,
    body: { successor: { keyId: 'key-2' } }
  })
  info('key-1', `${rotated.rotated.state}, successor ${rotated.successor?.keyId ?? 'none'}`)
  check(await checkVp() === `${acme.did}#key-1`, 'the earlier VP still verifies: key-1 stays in acme\'s DID document')
  const fresh = await expectHttp<Tokens>(200, 'POST', `${base}/api/sts/token`, { apiKey: acme.apiKey, body: { audience: beta.did, scope: [scope] } })
  check(decodeJwt(fresh.idToken).header.kid === `${acme.did}#key-2`, 'new tokens are signed with key-2')

  step() // 11
  await expectHttp(200, 'POST', `${identity}/participants/acme/keypairs/key-1/revoke`, { apiKey: acme.apiKey })
  const refused = await checkVp().then(() => undefined, (err: { details?: { reason?: string }, message?: string }) => err.details?.reason ?? err.message ?? 'refused')
  check(refused === 'unknown_key', `the earlier VP is refused: ${String(refused)} (key-1 is gone from acme's DID document)`)
  check((await verifyDidJwt(vc, resolve)).did === issuer.did, 'the credential itself still verifies: it is the issuer\'s signature, not acme\'s')

  step() // 12
  const stopped = await hub(['stop', '--dir', dir]) as { stopped: boolean, pid?: number }
  check(stopped.stopped && stopped.pid === d.info.pid, `hub stop --dir ${dir}`)
  check(await d.exit === 0, 'the daemon shut down cleanly (exit 0)')
  check(!existsSync(join(dir, 'daemon.json')), 'it removed its daemon.json')

  console.log('\nDone.')
}

try {
  await main()
} catch (err) {
  if (!interrupted) {
    console.error(`\n✗ ${(err as Error).message}`)
    process.exitCode = 1
  }
} finally {
  await cleanup()
}
