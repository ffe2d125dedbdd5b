/**
 * Organization suite: the Identity API and DCP over real HTTP on loopback.
 *
 * The hub and its HTTP server run in this process (one event loop), and so
 * does the HTTP client (global fetch, keep-alive): latencies include both
 * sides' CPU. Per run (fresh hub on disk):
 *  1. create — sequential POST /participants (API key, DID record, default
 *     key pair with its sealed private key: one batch each): participants/s.
 *  2. rotate — sequential key rotations with a generated successor: rotations/s.
 *  3. did — sequential GET /org/<id>/did.json (the document is computed
 *     from the key records on every fetch): p50/p99 ms.
 *  4. query — sequential DCP presentation queries against a holder with
 *     CREDS stored credentials, each with a fresh verifier ID token (minted
 *     beforehand, untimed: that is the verifier's cost): the holder verifies
 *     the ID token (DID resolved locally) and the access token, records the
 *     jti, selects credentials and signs a VP. p50/p99 ms and queries/s.
 * Per-client rate limits are off (one client from one address would only
 * measure the limiter). Figures are medians of RUNS runs with min and max.
 */
import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { createHttpServer } from '../src/http/app.js'
import { b64u } from '../src/identity/encoding.js'
import { percentile, progress, summarize, withTempHub, type Figures, type Suite, type SuiteOptions } from './util.js'
import { orgOf } from '../src/org/hub-org.js'

const RUNS = 3
const CREDS = 5
const SCOPE = 'org.eclipse.dspace.dcp.vc.type:MembershipCredential'

function signEd25519Jwt (privateKey: ReturnType<typeof generateKeyPairSync>['privateKey'], kid: string, payload: Record<string, unknown>): string {
  const input = `${b64u(JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid }))}.${b64u(JSON.stringify(payload))}`
  return `${input}.${b64u(sign(null, Buffer.from(input), privateKey))}`
}

async function runOnce (quick: boolean): Promise<Figures> {
  const nCreate = quick ? 30 : 200
  const nRotate = quick ? 30 : 200
  const nDid = quick ? 100 : 1000
  const nQuery = quick ? 50 : 500
  return await withTempHub(async hub => {
    const adminKey = randomBytes(24).toString('base64url')
    // One client measuring throughput from one address: the per-client rate limits would measure themselves.
    const server = createHttpServer(hub, { adminKey, limits: { public: false, apiKey: false } })
    const url = await server.listen('127.0.0.1', 0)
    const port = new URL(url).port
    const did = (name: string): string => `did:web:127.0.0.1%3A${port}:org:${name}`
    const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = { 'x-api-key': adminKey }): Promise<Record<string, unknown>> => {
      const res = await fetch(url + path, { method, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
      const text = await res.text()
      if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text}`)
      return text === '' ? {} : JSON.parse(text) as Record<string, unknown>
    }
    try {
      // 1. participant creation
      let t0 = performance.now()
      for (let i = 0; i < nCreate; i++) await call('POST', '/api/identity/v1/participants', { participantId: `p${i}`, did: did(`p${i}`), active: true })
      const createPerS = nCreate / ((performance.now() - t0) / 1000)

      // 2. rotations with a successor, spread over the participants
      t0 = performance.now()
      for (let i = 0; i < nRotate; i++) {
        const p = `p${i % nCreate}`
        const keys = await orgOf(hub).listKeyPairs(p)
        const active = keys.find(k => k.state === 'ACTIVATED') as { keyId: string }
        await call('POST', `/api/identity/v1/participants/${p}/keypairs/${active.keyId}/rotate`, { successor: {} })
      }
      const rotatePerS = nRotate / ((performance.now() - t0) / 1000)

      // 3. did:web fetches
      const didLat: number[] = []
      for (let i = 0; i < nDid; i++) {
        const s = performance.now()
        const res = await fetch(`${url}/org/p${i % nCreate}/did.json`)
        await res.arrayBuffer()
        if (res.status !== 200) throw new Error(`did.json → ${res.status}`)
        didLat.push(performance.now() - s)
      }

      // 4. presentation queries: issuer (imported key held here), holder, verifier
      const issuer = generateKeyPairSync('ed25519')
      const issuerJwk = issuer.publicKey.export({ format: 'jwk' })
      await call('POST', '/api/identity/v1/participants', { participantId: 'issuer', did: did('issuer'), active: true, key: { keyId: 'ik', publicKeyJwk: issuerJwk } })
      const holder = await call('POST', '/api/identity/v1/participants', { participantId: 'holder', did: did('holder'), active: true })
      const verifier = await call('POST', '/api/identity/v1/participants', { participantId: 'verifier', did: did('verifier'), active: true })
      const now = Math.floor(Date.now() / 1000)
      for (let i = 0; i < CREDS; i++) {
        const jwt = signEd25519Jwt(issuer.privateKey, `${did('issuer')}#ik`, {
          iss: did('issuer'), sub: did('holder'), jti: `urn:uuid:${randomUUID()}`, nbf: now - 60, exp: now + 86400,
          vc: { '@context': ['https://www.w3.org/2018/credentials/v1'], type: ['VerifiableCredential', i === 0 ? 'MembershipCredential' : `Other${i}Credential`], credentialSubject: { id: did('holder') } }
        })
        await call('POST', '/api/identity/v1/participants/holder/credentials', { jwt })
      }
      const { accessToken } = await call('POST', '/api/sts/token', { audience: did('verifier'), scope: [SCOPE], ttl: 3600 }, { 'x-api-key': String(holder.apiKey) })
      const idTokens: string[] = []
      for (let i = 0; i < nQuery; i++) {
        const r = await call('POST', '/api/sts/token', { audience: did('holder'), token: accessToken }, { 'x-api-key': String(verifier.apiKey) })
        idTokens.push(String(r.idToken))
      }
      const body = JSON.stringify({ '@context': ['https://w3id.org/dspace-dcp/v1.0/dcp.jsonld'], type: 'PresentationQueryMessage', scope: [SCOPE] })
      const qLat: number[] = []
      t0 = performance.now()
      for (const token of idTokens) {
        const s = performance.now()
        const res = await fetch(`${url}/api/credentials/v1/participants/holder/presentations/query`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body })
        const text = await res.text()
        if (res.status !== 200) throw new Error(`query → ${res.status} ${text}`)
        qLat.push(performance.now() - s)
      }
      const queryPerS = nQuery / ((performance.now() - t0) / 1000)
      return {
        create_per_s: createPerS,
        rotate_per_s: rotatePerS,
        did_p50_ms: percentile(didLat, 50),
        did_p99_ms: percentile(didLat, 99),
        query_p50_ms: percentile(qLat, 50),
        query_p99_ms: percentile(qLat, 99),
        query_per_s: queryPerS
      }
    } finally {
      await server.close()
    }
  })
}

export const org: Suite = {
  name: 'org',
  run: async (opts: SuiteOptions) => {
    const runs: Figures[] = []
    for (let r = 0; r < RUNS; r++) {
      progress(`org: run ${r + 1}/${RUNS}`)
      runs.push(await runOnce(opts.quick))
    }
    const out: Figures = {}
    for (const key of Object.keys(runs[0] as Figures)) {
      Object.assign(out, summarize(key, runs.map(f => Number(f[key])), key.endsWith('_per_s') ? 0 : 2))
    }
    out.credentials_stored = CREDS
    out.note = 'hub, HTTP server and client in one process'
    return out
  }
}
