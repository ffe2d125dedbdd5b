/**
 * OrgStore against a real LevelDB: every step of every operation can fail
 * without leaving a trace, a failing batch writes nothing, concurrent
 * operations keep the records consistent (and behave exactly as if run one
 * after the other), and the vault binds sealed keys to their record and hub.
 *
 * The failure cases are derived from OPERATION_STEPS: a step added there is
 * a new test case here, which fails until some variant of its operation
 * reaches it.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { SignJWT, type JWK } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { HubError } from '../errors.js'
import { Ed25519KeyPair } from '../identity/keys.js'
import type { KvOp, KvRange, KvStore } from '../store/kv.js'
import { LevelKv } from '../store/level-kv.js'
import { testKv } from '../../test/test-kv.js'
import { mulberry32 } from '../../test/faults/prng.js'
import { checkInvariants } from './invariants.js'
import { orgKeys } from './layout.js'
import { InjectedFailure, OPERATION_STEPS, OrgStore, type OrgOperation } from './org-store.js'
import type { AnyOrgOperation } from './operations.js'
import { encodeBitstring } from './status-list.js'
import type { OrgEvent } from './types.js'
import { Vault } from './vault.js'

// ── environment ─────────────────────────────────────────────────────────

/** A KvStore whose batch can be made to fail (before anything is written). */
class FaultyKv implements KvStore {
  failBatch = false
  batches = 0
  /** Runs before every get: lets a test commit an operation between two reads. */
  beforeGet: ((key: string) => Promise<void>) | undefined
  constructor (readonly inner: KvStore) {}
  async get (key: string): Promise<Uint8Array | undefined> {
    await this.beforeGet?.(key)
    return await this.inner.get(key)
  }

  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> { return await this.inner.getMany(keys) }
  async batch (ops: KvOp[]): Promise<void> {
    if (this.failBatch) throw new Error('injected batch failure: disk full')
    this.batches++
    await this.inner.batch(ops)
  }

  entries (range: KvRange): AsyncIterable<[string, Uint8Array]> { return this.inner.entries(range) }
  keys (range: KvRange): AsyncIterable<string> { return this.inner.keys(range) }
  async close (): Promise<void> { await this.inner.close() }
}

interface Env {
  kv: FaultyKv
  vault: Vault
  store: OrgStore
  /** Events emitted since the fixture was built. */
  events: OrgEvent[]
  /** Every failpoint passed (op, step), in order. */
  trace: Array<[AnyOrgOperation, string]>
  /** The failpoint that throws, if any. */
  armed: { op: OrgOperation, step: string } | undefined
}

const opened: Array<{ dir: string, kv: KvStore }> = []

afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.kv.close()
    await rm(o.dir, { recursive: true, force: true })
  }
})

async function openEnv (vault = new Vault(randomBytes(32))): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'org-store-'))
  const level = await testKv(async () => await LevelKv.open(join(dir, 'db')))
  opened.push({ dir, kv: level })
  const kv = new FaultyKv(level)
  const env: Env = { kv, vault, store: undefined as unknown as OrgStore, events: [], trace: [], armed: undefined }
  env.store = new OrgStore({
    kv,
    vault,
    failpoint: (op, step) => {
      env.trace.push([op, step])
      if (env.armed !== undefined && env.armed.op === op && env.armed.step === step) throw new InjectedFailure(op, step)
    }
  })
  env.store.on('*', e => { env.events.push(e) })
  return env
}

/** Every key and value in the store, values base64: for byte-for-byte comparisons. */
async function dump (kv: KvStore): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for await (const [k, v] of kv.entries({})) out.set(k, Buffer.from(v).toString('base64'))
  return out
}

async function settle (p: Promise<unknown>): Promise<unknown> {
  return await p.then(() => undefined, (e: unknown) => e ?? new Error('rejected with nothing'))
}

// ── fixture ─────────────────────────────────────────────────────────────

const ACME = 'did:web:example.com:org:acme'
const BETA = 'did:web:example.com:org:beta'
const GAMMA = 'did:web:example.com:org:gamma'
const DELTA = 'did:web:example.com:org:delta'
const ISSUER = 'did:web:issuer.example'
/** acme's IssuerService endpoint: its status lists live under it. */
const STATUS_BASE = 'https://acme.example/api/issuance/v1/participants/acme'
const revocable = (credentialId: string): { credentialId: string, definitionId: string, credentialType: string } =>
  ({ credentialId, definitionId: 'def-sl', credentialType: 'RevocableCredential' })
const issuerKey = generateKeyPairSync('ed25519')

function publicJwk (): JWK {
  return generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as JWK
}
const IMPORTED = publicJwk()
const IMPORTED_2 = publicJwk()

/** A VCDM 1.1 JWT VC with id `id`, about `subject` (or about no one in particular). */
async function vcJwt (id: string, subject?: string): Promise<string> {
  const credentialSubject = subject === undefined ? { member: true } : { id: subject, member: true }
  return await new SignJWT({
    vc: { '@context': ['https://www.w3.org/2018/credentials/v1'], type: ['VerifiableCredential', 'MembershipCredential'], credentialSubject },
    ...(subject !== undefined ? { sub: subject } : {})
  })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: `${ISSUER}#key-1` })
    .setIssuer(ISSUER)
    .setJti(id)
    .setIssuedAt()
    .sign(issuerKey.privateKey)
}

/**
 * acme: ACTIVATED, DID published with one service; key-1 (ACTIVATED, default,
 * generated), k-created (CREATED), k-active (ACTIVATED), k-imported
 * (ACTIVATED, public key only); credential urn:uuid:cred-1; as an issuer,
 * credential definitions def-1 and def-sl (status list), one RECEIVED
 * issuance request from beta, and one ISSUED whose credential
 * urn:uuid:ic-1 sits at index 0 of a 16-entry status list; as a holder, one
 * REQUESTED credential request to ISSUER.
 * beta: CREATED, DID unpublished, key-1 ACTIVATED. gamma: DEACTIVATED.
 */
async function fixture (s: OrgStore): Promise<void> {
  await s.createParticipant({ participantId: 'acme', did: ACME, active: true, services: [{ id: '#cs', type: 'CredentialService', serviceEndpoint: 'https://acme.example/cs' }] })
  await s.createKeyPair('acme', { keyId: 'k-created' })
  await s.createKeyPair('acme', { keyId: 'k-active', activate: true })
  await s.createKeyPair('acme', { keyId: 'k-imported', publicKeyJwk: IMPORTED, activate: true })
  await s.storeCredentials('acme', [await vcJwt('urn:uuid:cred-1', ACME)])
  await s.createDefinition('acme', { id: 'def-1', credentialType: 'MembershipCredential' })
  await s.receiveIssuanceRequest('acme', { holderDid: BETA, holderPid: 'beta-req-1', credentials: ['def-1'] })
  await s.createDefinition('acme', { id: 'def-sl', credentialType: 'RevocableCredential', statusList: true })
  const sl = await s.receiveIssuanceRequest('acme', { holderDid: BETA, holderPid: 'beta-req-sl', credentials: ['def-sl'] })
  await s.recordIssuedCredentials('acme', sl.issuerPid, { statusBaseUrl: STATUS_BASE, listSize: 16, credentials: [revocable('urn:uuid:ic-1')] })
  await s.settleIssuanceRequest('acme', sl.issuerPid, { status: 'ISSUED', credentialIds: ['urn:uuid:ic-1'], delivered: true })
  await s.createHolderRequest('acme', { issuerDid: ISSUER, credentials: ['member'] })
  await s.createParticipant({ participantId: 'beta', did: BETA })
  await s.createParticipant({ participantId: 'gamma', did: GAMMA, active: true })
  await s.deactivateParticipant('gamma')
}

async function fixtureEnv (): Promise<Env> {
  const env = await openEnv()
  await fixture(env.store)
  env.events.length = 0
  env.trace.length = 0
  env.kv.batches = 0
  return env
}

interface Variant { name: string, run: (s: OrgStore) => Promise<unknown> }

/**
 * Inputs for each operation, on the fixture: together they reach every step
 * (a key import skips sealing, only a rotation with a successor makes one,
 * and so on). Typed by OrgOperation, so a new operation does not compile
 * until it has variants here.
 */
const VARIANTS: Record<OrgOperation, Variant[]> = {
  'participant.create': [
    { name: 'generated key, active, with a service', run: async s => await s.createParticipant({ participantId: 'delta', did: DELTA, active: true, services: [{ id: '#cs', type: 'CredentialService', serviceEndpoint: 'https://delta.example/cs' }] }) },
    { name: 'imported key, not active', run: async s => await s.createParticipant({ participantId: 'delta', did: DELTA, key: { keyId: 'imported', publicKeyJwk: IMPORTED_2 } }) }
  ],
  'participant.activate': [
    { name: 'CREATED participant', run: async s => await s.activateParticipant('beta') },
    { name: 'DEACTIVATED participant', run: async s => await s.activateParticipant('gamma') }
  ],
  'participant.deactivate': [
    { name: 'ACTIVATED participant', run: async s => await s.deactivateParticipant('acme') }
  ],
  'participant.delete': [
    { name: 'with keys, sealed keys, credential, services', run: async s => { await s.deleteParticipant('acme') } },
    { name: 'CREATED participant', run: async s => { await s.deleteParticipant('beta') } }
  ],
  'participant.regenerate-api-key': [
    { name: 'acme', run: async s => await s.regenerateApiKey('acme') }
  ],
  'keypair.create': [
    { name: 'generated', run: async s => await s.createKeyPair('acme', { keyId: 'k-new' }) },
    { name: 'imported', run: async s => await s.createKeyPair('acme', { keyId: 'k-new', publicKeyJwk: IMPORTED_2 }) },
    { name: 'generated, activated, takes the default role', run: async s => await s.createKeyPair('acme', { keyId: 'k-new', activate: true, isDefault: true }) },
    { name: 'next free key id', run: async s => await s.createKeyPair('acme') }
  ],
  'keypair.activate': [
    { name: 'CREATED key', run: async s => await s.activateKeyPair('acme', 'k-created') }
  ],
  'keypair.rotate': [
    { name: 'default key, generated successor', run: async s => await s.rotateKeyPair('acme', 'key-1', { keyId: 'key-1b' }) },
    { name: 'imported successor', run: async s => await s.rotateKeyPair('acme', 'k-active', { keyId: 'k-active-2', publicKeyJwk: IMPORTED_2 }) },
    { name: 'no successor', run: async s => await s.rotateKeyPair('acme', 'k-active') },
    { name: 'imported key, no successor', run: async s => await s.rotateKeyPair('acme', 'k-imported') }
  ],
  'keypair.revoke': [
    { name: 'CREATED key', run: async s => await s.revokeKeyPair('acme', 'k-created') },
    { name: 'ACTIVATED default key', run: async s => await s.revokeKeyPair('acme', 'key-1') },
    { name: 'imported key', run: async s => await s.revokeKeyPair('acme', 'k-imported') }
  ],
  'did.publish': [
    { name: 'unpublished', run: async s => await s.publishDid('beta') }
  ],
  'did.unpublish': [
    { name: 'published', run: async s => await s.unpublishDid('acme') }
  ],
  'did.service.add': [
    { name: 'new service', run: async s => await s.addService('acme', { id: '#dcp', type: 'DCP', serviceEndpoint: 'https://acme.example/dcp' }) }
  ],
  'did.service.remove': [
    { name: 'existing service', run: async s => { await s.removeService('acme', '#cs') } }
  ],
  'credential.store': [
    { name: 'about the participant', run: async s => await s.storeCredentials('acme', [await vcJwt('urn:uuid:cred-2', ACME)]) },
    { name: 'two at once, one without a subject', run: async s => await s.storeCredentials('acme', [await vcJwt('urn:uuid:cred-3'), await vcJwt('urn:uuid:cred-4', ACME)]) }
  ],
  'credential.revoke': [
    { name: 'ISSUED credential', run: async s => await s.revokeCredential('acme', 'urn:uuid:cred-1') }
  ],
  'credential.delete': [
    { name: 'stored credential', run: async s => { await s.deleteCredential('acme', 'urn:uuid:cred-1') } }
  ],
  'issuance.definition.create': [
    { name: 'minimal', run: async s => await s.createDefinition('acme', { id: 'def-2', credentialType: 'OtherCredential' }) },
    { name: 'claims, holders, validity, schema, status list', run: async s => await s.createDefinition('acme', { id: 'urn:def:3', credentialType: 'GoldCredential', validitySeconds: 60, claims: { level: 'gold' }, holders: [BETA, 'did:web:Example.com%3a8443'], credentialSchema: 'https://schemas.example/gold.json', statusList: true }) }
  ],
  'issuance.definition.delete': [
    { name: 'existing definition', run: async s => { await s.deleteDefinition('acme', 'def-1') } }
  ],
  'issuance.request.receive': [
    { name: 'from beta', run: async s => await s.receiveIssuanceRequest('acme', { holderDid: BETA, holderPid: 'beta-req-2', credentials: ['def-1', 'unknown'] }) }
  ],
  'issuance.request.settle': [
    { name: 'ISSUED and delivered', run: async s => await s.settleIssuanceRequest('acme', await receivedPid(s), { status: 'ISSUED', credentialIds: ['urn:uuid:x'], delivered: true }) },
    { name: 'REJECTED, not delivered', run: async s => await s.settleIssuanceRequest('acme', await receivedPid(s), { status: 'REJECTED', rejectionReason: 'no', delivered: false, deliveryError: 'unreachable' }) }
  ],
  'issued-credential.record': [
    { name: 'into the current list', run: async s => await s.recordIssuedCredentials('acme', await receivedPid(s), { statusBaseUrl: STATUS_BASE, listSize: 16, credentials: [revocable('urn:uuid:ic-2')] }) },
    {
      name: 'fills the current list and starts the next',
      run: async s => await s.recordIssuedCredentials('acme', await receivedPid(s), { statusBaseUrl: STATUS_BASE, listSize: 16, credentials: Array.from({ length: 16 }, (_, i) => revocable(`urn:uuid:ic-fill-${i}`)) })
    },
    { name: 'another base URL starts a list of the default size', run: async s => await s.recordIssuedCredentials('acme', await receivedPid(s), { statusBaseUrl: 'https://issuer.acme.example/dcp/', credentials: [revocable('urn:uuid:ic-3'), revocable('urn:uuid:ic-4')] }) }
  ],
  'issued-credential.revoke': [
    { name: 'credential with a status list entry', run: async s => await s.revokeIssuedCredential('acme', 'urn:uuid:ic-1') }
  ],
  'credential-request.create': [
    { name: 'to an issuer', run: async s => await s.createHolderRequest('acme', { issuerDid: ISSUER, credentials: ['member', 'other'] }) }
  ],
  'credential-request.update': [
    { name: 'acknowledged (RECEIVED)', run: async s => await s.updateHolderRequest('acme', await requestedPid(s), { status: 'RECEIVED', issuerPid: 'issuer-pid-1' }) },
    { name: 'FAILED', run: async s => await s.updateHolderRequest('acme', await requestedPid(s), { status: 'FAILED', reason: 'unreachable' }) }
  ],
  'credential-request.complete': [
    { name: 'ISSUED with a credential', run: async s => await s.completeHolderRequest('acme', await requestedPid(s), { issuerDid: ISSUER, issuerPid: 'issuer-pid-1', status: 'ISSUED', jwts: [await vcJwt('urn:uuid:issued-1', ACME)] }) },
    { name: 'REJECTED', run: async s => await s.completeHolderRequest('acme', await requestedPid(s), { issuerDid: ISSUER, issuerPid: 'issuer-pid-1', status: 'REJECTED', rejectionReason: 'not a member' }) }
  ]
}

/** The fixture's RECEIVED issuance request (issuerPids are random). */
async function receivedPid (s: OrgStore): Promise<string> {
  const r = (await s.listIssuanceRequests('acme')).find(x => x.status === 'RECEIVED')
  if (r === undefined) throw new Error('the fixture has no RECEIVED issuance request')
  return r.issuerPid
}

/** The fixture's REQUESTED credential request (holderPids are random). */
async function requestedPid (s: OrgStore): Promise<string> {
  const r = (await s.listHolderRequests('acme')).find(x => x.status === 'REQUESTED')
  if (r === undefined) throw new Error('the fixture has no REQUESTED credential request')
  return r.holderPid
}

const OPERATIONS = Object.keys(OPERATION_STEPS) as OrgOperation[]

// ── failpoints ──────────────────────────────────────────────────────────

describe('OrgStore: a failure at any step leaves no trace', () => {
  it('every operation has variants, and none has an unknown one', () => {
    expect(Object.keys(VARIANTS).sort()).toEqual([...OPERATIONS].sort())
    for (const op of OPERATIONS) expect(VARIANTS[op].length, op).toBeGreaterThan(0)
  })

  it('the fixture is consistent', async () => {
    const env = await fixtureEnv()
    expect(await checkInvariants(env.kv, env.vault)).toEqual([])
  })

  describe.each(OPERATIONS)('%s', (op) => {
    it('each variant passes its steps in the declared order and ends with commit', async () => {
      const steps: readonly string[] = OPERATION_STEPS[op]
      for (const v of VARIANTS[op]) {
        const env = await fixtureEnv()
        await v.run(env.store)
        const passed = env.trace.map(([o, s]) => { expect(o, v.name).toBe(op); return s })
        const positions = passed.map(s => steps.indexOf(s))
        expect(positions, `${v.name}: ${passed.join(' → ')}`).not.toContain(-1)
        expect(positions, `${v.name}: ${passed.join(' → ')} is out of order`).toEqual([...positions].sort((a, b) => a - b))
        expect(new Set(passed).size, `${v.name}: a step passed twice`).toBe(passed.length)
        expect(passed.at(-1), v.name).toBe('commit')
        expect(env.events.length, `${v.name}: no event`).toBeGreaterThan(0)
        expect(await checkInvariants(env.kv, env.vault), v.name).toEqual([])
      }
    })

    it.each([...OPERATION_STEPS[op]])(`fails at %s without a trace, then succeeds`, async (step) => {
      const reachedBy: string[] = []
      for (const v of VARIANTS[op]) {
        const env = await fixtureEnv()
        const before = await dump(env.kv)
        env.armed = { op, step }
        const err = await settle(v.run(env.store))
        const hits = env.trace.filter(([o, s]) => o === op && s === step).length
        if (hits === 0) {
          // This variant's path does not pass the step: it must simply have worked.
          expect(err, `${v.name}: failed without reaching ${step}`).toBeUndefined()
          continue
        }
        reachedBy.push(v.name)
        expect(hits, v.name).toBe(1)
        expect(env.trace.at(-1), `${v.name}: went on after the failpoint threw`).toEqual([op, step])
        expect(err, v.name).toBeInstanceOf(InjectedFailure)
        expect((err as Error).message, v.name).toBe(`injected failure at ${op}/${step}`)
        expect(await dump(env.kv), `${v.name}: store changed`).toEqual(before)
        expect(env.events, `${v.name}: events emitted`).toEqual([])
        expect(env.kv.batches, v.name).toBe(0)

        // Nothing left behind blocks the same operation.
        env.armed = undefined
        await v.run(env.store)
        expect(env.events.length, v.name).toBeGreaterThan(0)
        expect(await dump(env.kv), `${v.name}: the retry changed nothing`).not.toEqual(before)
        expect(await checkInvariants(env.kv, env.vault), v.name).toEqual([])
      }
      expect(reachedBy, `no variant of ${op} reaches "${step}"`).not.toEqual([])
    })

    it('a failing batch writes nothing and emits nothing, and the retry succeeds', async () => {
      for (const v of VARIANTS[op]) {
        const env = await fixtureEnv()
        const before = await dump(env.kv)
        env.kv.failBatch = true
        const err = await settle(v.run(env.store))
        expect((err as Error | undefined)?.message, v.name).toBe('injected batch failure: disk full')
        expect(await dump(env.kv), v.name).toEqual(before)
        expect(env.events, v.name).toEqual([])
        env.kv.failBatch = false
        await v.run(env.store)
        expect(env.events.length, v.name).toBeGreaterThan(0)
        expect(await checkInvariants(env.kv, env.vault), v.name).toEqual([])
      }
    })
  })

  it('a failure does not stall the queue: the next operation runs', async () => {
    const env = await fixtureEnv()
    env.armed = { op: 'keypair.rotate', step: 'successor' }
    const results = await Promise.allSettled([
      env.store.rotateKeyPair('acme', 'key-1', { keyId: 'key-1b' }),
      env.store.revokeKeyPair('acme', 'k-created'),
      env.store.regenerateApiKey('beta')
    ])
    expect(results.map(r => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled'])
    expect(env.events.map(e => e.type)).toEqual(['keypair.revoked', 'participant.apikey.regenerated'])
    expect((await env.store.getKeyPair('acme', 'key-1')).state).toBe('ACTIVATED')
    await env.store.idle()
  })
})

// ── status lists ────────────────────────────────────────────────────────

describe('OrgStore: issuer status lists', () => {
  it('hands out indices in order, starts a new list when one is full, and revokes by setting exactly that bit (idempotently)', async () => {
    const env = await fixtureEnv()
    const s = env.store
    const [first] = await s.listStatusLists('acme')
    expect(first).toMatchObject({ seq: 1, size: 16, next: 1, statusPurpose: 'revocation', url: `${STATUS_BASE}/status/${first!.listId}` })
    const got = await s.recordIssuedCredentials('acme', await receivedPid(s), { statusBaseUrl: `${STATUS_BASE}/`, listSize: 16, credentials: Array.from({ length: 16 }, (_, i) => revocable(`urn:uuid:n-${i}`)) })
    expect(got.map(c => [c.listId === first!.listId ? 1 : 2, c.index])).toEqual([...Array.from({ length: 15 }, (_, i) => [1, i + 1]), [2, 0]])
    expect(got[0]).toMatchObject({ holderDid: BETA, definitionId: 'def-sl', credentialType: 'RevocableCredential', revoked: false, statusListCredential: first!.url })
    const lists = await s.listStatusLists('acme')
    expect(lists.map(l => [l.seq, l.next, l.size])).toEqual([[1, 16, 16], [2, 1, 16]])
    expect(env.events.filter(e => e.type === 'status-list.created')).toHaveLength(1)

    const bitsOf = async (listId: string): Promise<Uint8Array> => {
      const { decodeEncodedList } = await import('./status-list.js')
      return decodeEncodedList('BitstringStatusList', (await s.findStatusList('acme', listId))!.encodedList)
    }
    const target = got[8]!
    const revoked = await s.revokeIssuedCredential('acme', target.credentialId)
    expect(revoked).toMatchObject({ credentialId: target.credentialId, revoked: true, revokedAt: expect.any(String) })
    expect(await bitsOf(target.listId)).toEqual(new Uint8Array([0, 0b0100_0000])) // index 9
    env.events.length = 0
    expect(await s.revokeIssuedCredential('acme', target.credentialId)).toEqual(revoked)
    expect(env.events).toEqual([])
    expect(await bitsOf(target.listId)).toEqual(new Uint8Array([0, 0b0100_0000]))
    await expect(s.revokeIssuedCredential('acme', 'urn:uuid:never-issued')).rejects.toMatchObject({ code: 'not_found' })
    expect(await checkInvariants(env.kv, env.vault)).toEqual([])
  })

  it('refuses a settled request, an id recorded before, a bad base URL or list size — leaving no trace', async () => {
    const env = await fixtureEnv()
    const s = env.store
    const before = await dump(env.kv)
    const settled = (await s.listIssuanceRequests('acme')).find(r => r.status === 'ISSUED')!.issuerPid
    const pid = await receivedPid(s)
    const cases: Array<[Promise<unknown>, string]> = [
      [s.recordIssuedCredentials('acme', settled, { statusBaseUrl: STATUS_BASE, credentials: [revocable('urn:uuid:a')] }), 'conflict'],
      [s.recordIssuedCredentials('acme', 'no-such-request', { statusBaseUrl: STATUS_BASE, credentials: [revocable('urn:uuid:a')] }), 'not_found'],
      [s.recordIssuedCredentials('acme', pid, { statusBaseUrl: STATUS_BASE, credentials: [revocable('urn:uuid:ic-1')] }), 'already_exists'],
      [s.recordIssuedCredentials('acme', pid, { statusBaseUrl: STATUS_BASE, credentials: [revocable('urn:uuid:a'), revocable('urn:uuid:a')] }), 'already_exists'],
      [s.recordIssuedCredentials('acme', pid, { statusBaseUrl: `${STATUS_BASE}?x=1`, credentials: [revocable('urn:uuid:a')] }), 'bad_request'],
      [s.recordIssuedCredentials('acme', pid, { statusBaseUrl: 'ftp://acme.example/x', credentials: [revocable('urn:uuid:a')] }), 'bad_request'],
      [s.recordIssuedCredentials('acme', pid, { statusBaseUrl: STATUS_BASE, listSize: 12, credentials: [revocable('urn:uuid:a')] }), 'bad_request'],
      [s.recordIssuedCredentials('acme', pid, { statusBaseUrl: STATUS_BASE, credentials: [] }), 'bad_request']
    ]
    for (const [p, code] of cases) await expect(p).rejects.toMatchObject({ code })
    expect(await dump(env.kv)).toEqual(before)
    expect(env.events).toEqual([])
  })

  it('a definition\'s statusList must be a boolean, and is kept as given', async () => {
    const env = await fixtureEnv()
    await expect(env.store.createDefinition('acme', { id: 'x', credentialType: 'X', statusList: 'yes' as unknown as boolean })).rejects.toMatchObject({ code: 'bad_request' })
    expect(await env.store.createDefinition('acme', { id: 'y', credentialType: 'Y', statusList: false })).toMatchObject({ statusList: false })
    expect(await env.store.findDefinition('acme', 'def-1')).not.toHaveProperty('statusList')
  })

  it('deleting the issuer deletes its lists and issued-credential records', async () => {
    const env = await fixtureEnv()
    expect(await env.store.listStatusLists('acme')).toHaveLength(1)
    await env.store.deleteParticipant('acme')
    const keys = [...(await dump(env.kv)).keys()]
    expect(keys.filter(k => k.startsWith('org!sl!') || k.startsWith('org!ic!'))).toEqual([])
    expect(await checkInvariants(env.kv, env.vault)).toEqual([])
  })
})

// ── reads racing operations ─────────────────────────────────────────────

describe('OrgStore: reads that race an operation', () => {
  /** Commit `op` right before the first read of `key`. */
  function commitBefore (env: Env, key: string, op: () => Promise<unknown>): void {
    env.kv.beforeGet = async k => {
      if (k !== key) return
      env.kv.beforeGet = undefined
      await op()
    }
  }

  it('signingKey picks the successor when the chosen key is rotated under it', async () => {
    const env = await fixtureEnv()
    commitBefore(env, orgKeys.privateKey('acme', 'key-1'), async () => await env.store.rotateKeyPair('acme', 'key-1', { keyId: 'key-1b' }))
    const key = await env.store.signingKey('acme')
    expect(key.kid).toBe(`${ACME}#key-1b`)
    expect(env.events.map(e => e.type)).toContain('keypair.rotated')
  })

  it('signingKey says not_found when the participant is deleted under it', async () => {
    const env = await fixtureEnv()
    commitBefore(env, orgKeys.privateKey('acme', 'key-1'), async () => { await env.store.deleteParticipant('acme') })
    await expect(env.store.signingKey('acme')).rejects.toMatchObject({ code: 'not_found' })
  })

  it('getDid (and the did:web document) says not_found when the participant is deleted under it', async () => {
    const env = await fixtureEnv()
    commitBefore(env, orgKeys.didResource('acme'), async () => { await env.store.deleteParticipant('acme') })
    await expect(env.store.getDid('acme')).rejects.toMatchObject({ code: 'not_found' })
  })

  it('a missing DID record or sealed key of an existing participant is still reported as damage', async () => {
    const env = await fixtureEnv()
    await env.kv.batch([{ type: 'del', key: orgKeys.didResource('acme') }, { type: 'del', key: orgKeys.privateKey('acme', 'key-1') }])
    await expect(env.store.getDid('acme')).rejects.toMatchObject({ code: 'internal' })
    await expect(env.store.signingKey('acme')).rejects.toMatchObject({ code: 'internal' })
  })
})

// ── invariants ──────────────────────────────────────────────────────────

describe('checkInvariants', () => {
  const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
  const put = (key: string, value: Uint8Array): KvOp => ({ type: 'put', key, value })
  const del = (key: string): KvOp => ({ type: 'del', key })

  const corruptions: Array<{ name: string, ops: (env: Env) => Promise<KvOp[]>, problem: RegExp }> = [
    { name: 'DID owner entry missing', ops: async () => [del(orgKeys.didOwner(ACME))], problem: /participant "acme": 0 DID owner entries/ },
    { name: 'second DID owner entry', ops: async () => [put(orgKeys.didOwner('did:web:other.example'), new TextEncoder().encode('acme'))], problem: /participant "acme": 2 DID owner entries/ },
    { name: 'dangling DID owner entry', ops: async () => [put(orgKeys.didOwner('did:web:ghost.example'), new TextEncoder().encode('ghost'))], problem: /names participant "ghost", which does not exist/ },
    { name: 'DID record missing', ops: async () => [del(orgKeys.didResource('acme'))], problem: /participant "acme": no DID record/ },
    {
      name: 'key pair of a missing participant',
      ops: async env => [put(orgKeys.keyPair('ghost', 'key-1'), enc({ ...(await env.store.getKeyPair('beta', 'key-1')), participantId: 'ghost', hasPrivateKey: false }))],
      problem: /org!k!ghost!key-1: key pair of a participant that does not exist/
    },
    {
      name: 'credential of a missing participant',
      ops: async env => [put(orgKeys.credential('ghost', 'urn:x'), enc({ ...(await env.store.getCredential('acme', 'urn:uuid:cred-1')), participantId: 'ghost', credentialId: 'urn:x' }))],
      problem: /credential of a participant that does not exist/
    },
    { name: 'DID record of a missing participant', ops: async () => [put(orgKeys.didResource('ghost'), enc({ participantId: 'ghost', did: 'did:web:ghost', state: 'UNPUBLISHED', services: [], updatedAt: '' }))], problem: /DID record of a participant that does not exist/ },
    {
      name: 'sealed key of a missing participant',
      ops: async env => [put(orgKeys.privateKey('ghost', 'key-1'), (await env.kv.get(orgKeys.privateKey('acme', 'key-1')))!)],
      problem: /org!sk!ghost!key-1: sealed key without a key pair record/
    },
    {
      name: 'sealed key of a key pair without a private key',
      ops: async env => [put(orgKeys.privateKey('acme', 'k-imported'), (await env.kv.get(orgKeys.privateKey('acme', 'key-1')))!)],
      problem: /org!sk!acme!k-imported: sealed key of a key pair that says it has none/
    },
    {
      name: 'sealed key kept by a ROTATED key pair',
      ops: async env => {
        const sk = (await env.kv.get(orgKeys.privateKey('acme', 'k-active')))!
        await env.store.rotateKeyPair('acme', 'k-active')
        return [put(orgKeys.privateKey('acme', 'k-active'), sk)]
      },
      problem: /org!sk!acme!k-active: sealed key of a ROTATED key pair/
    },
    {
      name: 'REVOKED key pair claiming a private key',
      ops: async env => {
        const k = await env.store.revokeKeyPair('acme', 'k-active')
        return [put(orgKeys.keyPair('acme', 'k-active'), enc({ ...k, hasPrivateKey: true }))]
      },
      problem: /REVOKED but claims a private key/
    },
    { name: 'sealed key missing', ops: async () => [del(orgKeys.privateKey('acme', 'key-1'))], problem: /claims a private key, but org!sk!acme!key-1 is missing/ },
    {
      name: 'sealed key of another key pair',
      ops: async env => [put(orgKeys.privateKey('acme', 'k-active'), env.vault.seal(randomBytes(32), orgKeys.privateKey('acme', 'k-active')))],
      problem: /org!sk!acme!k-active: is not the private half/
    },
    {
      name: 'two default keys',
      ops: async env => [put(orgKeys.keyPair('acme', 'k-active'), enc({ ...(await env.store.getKeyPair('acme', 'k-active')), isDefault: true }))],
      problem: /participant "acme": 2 default key pairs \(k-active, key-1\)/
    },
    {
      name: 'credential definition of a missing participant',
      ops: async env => [put(orgKeys.definition('ghost', 'def-1'), enc({ ...(await env.store.listDefinitions('acme'))[0], participantId: 'ghost' }))],
      problem: /org!cd!ghost!def-1: credential definition of a participant that does not exist/
    },
    {
      name: 'issuance request of a missing participant',
      ops: async env => {
        const r = (await env.store.listIssuanceRequests('acme'))[0]!
        return [put(orgKeys.issuanceRequest('ghost', r.issuerPid), enc({ ...r, participantId: 'ghost' }))]
      },
      problem: /org!ir!ghost!.*: issuance request of a participant that does not exist/
    },
    {
      name: 'credential request of a missing participant',
      ops: async env => {
        const r = (await env.store.listHolderRequests('acme'))[0]!
        return [put(orgKeys.holderRequest('ghost', r.holderPid), enc({ ...r, participantId: 'ghost' }))]
      },
      problem: /org!hr!ghost!.*: credential request of a participant that does not exist/
    },
    {
      name: 'issuance request under another request\'s key',
      ops: async env => [put(orgKeys.issuanceRequest('acme', 'other'), enc((await env.store.listIssuanceRequests('acme'))[0]))],
      problem: /org!ir!acme!other: holds issuance request/
    },
    {
      name: 'issuance and credential requests with unknown statuses',
      ops: async env => {
        const ir = (await env.store.listIssuanceRequests('acme'))[0]!
        const hr = (await env.store.listHolderRequests('acme'))[0]!
        return [put(orgKeys.issuanceRequest('acme', ir.issuerPid), enc({ ...ir, status: 'LOST' })), put(orgKeys.holderRequest('acme', hr.holderPid), enc({ ...hr, status: 'LOST' }))]
      },
      problem: /unknown (issuance|credential) request status LOST/
    },
    {
      name: 'status list and issued credential of a missing participant',
      ops: async env => {
        const l = (await env.store.listStatusLists('acme'))[0]!
        const c = (await env.store.listIssuedCredentials('acme'))[0]!
        return [put(orgKeys.statusList('ghost', l.listId), enc({ ...l, participantId: 'ghost' })), put(orgKeys.issuedCredential('ghost', c.credentialId), enc({ ...c, participantId: 'ghost' }))]
      },
      problem: /org!ic!ghost!urn:uuid:ic-1: issued credential of a participant that does not exist/
    },
    {
      name: 'status list of a missing participant',
      ops: async env => {
        const l = (await env.store.listStatusLists('acme'))[0]!
        return [put(orgKeys.statusList('ghost', l.listId), enc({ ...l, participantId: 'ghost' }))]
      },
      problem: /org!sl!ghost!.*: status list of a participant that does not exist/
    },
    {
      name: 'issued credential whose status list is missing',
      ops: async env => [del(orgKeys.statusList('acme', (await env.store.listStatusLists('acme'))[0]!.listId))],
      problem: /org!ic!acme!urn:uuid:ic-1: its status list .* does not exist/
    },
    {
      name: 'issued credential past the entries handed out',
      ops: async env => [put(orgKeys.issuedCredential('acme', 'urn:uuid:ic-1'), enc({ ...(await env.store.findIssuedCredential('acme', 'urn:uuid:ic-1')), index: 5 }))],
      problem: /index 5 is outside the entries handed out/
    },
    {
      name: 'two issued credentials on one index',
      ops: async env => [put(orgKeys.issuedCredential('acme', 'urn:uuid:ic-x'), enc({ ...(await env.store.findIssuedCredential('acme', 'urn:uuid:ic-1')), credentialId: 'urn:uuid:ic-x' }))],
      problem: /index 0 of org!sl!acme!.* is also/
    },
    {
      name: 'revoked credential whose bit is clear',
      ops: async env => [put(orgKeys.issuedCredential('acme', 'urn:uuid:ic-1'), enc({ ...(await env.store.findIssuedCredential('acme', 'urn:uuid:ic-1')), revoked: true }))],
      problem: /bit 0 is clear, but its credential is revoked/
    },
    {
      name: 'set bit without a revoked credential',
      ops: async env => {
        const l = (await env.store.listStatusLists('acme'))[0]!
        return [put(orgKeys.statusList('acme', l.listId), enc({ ...l, encodedList: encodeBitstring(new Uint8Array([0, 0b0001_0000])) }))]
      },
      problem: /bit 11 is set, but no revoked credential has that index/
    },
    {
      name: 'status list bitstring of the wrong size, and a next index past the end',
      ops: async env => {
        const l = (await env.store.listStatusLists('acme'))[0]!
        return [put(orgKeys.statusList('acme', l.listId), enc({ ...l, next: 17, encodedList: encodeBitstring(new Uint8Array(1)) }))]
      },
      problem: /bitstring holds 8 entries, not 16/
    },
    { name: 'unknown org key', ops: async () => [put('org!zz!acme', new Uint8Array([1]))], problem: /org!zz!acme: not an organization key/ },
    { name: 'unparseable record', ops: async () => [put(orgKeys.participant('acme'), new Uint8Array([0x7b]))], problem: /org!p!acme: not a JSON record/ }
  ]

  it.each(corruptions)('finds: $name', async ({ ops, problem }) => {
    const env = await fixtureEnv()
    await env.kv.batch(await ops(env))
    const problems = await checkInvariants(env.kv, env.vault)
    expect(problems.some(p => problem.test(p)), problems.join('\n')).toBe(true)
  })

  it('reads nothing outside org! and writes nothing', async () => {
    const env = await fixtureEnv()
    await env.kv.batch([put('t!x!o!1', new Uint8Array([1])), put('n!peer', new Uint8Array([2]))])
    const before = await dump(env.kv)
    const batches = env.kv.batches
    expect(await checkInvariants(env.kv, env.vault)).toEqual([])
    expect(await checkInvariants(env.kv)).toEqual([])
    expect(env.kv.batches).toBe(batches)
    expect(await dump(env.kv)).toEqual(before)
  })
})

// ── concurrency ─────────────────────────────────────────────────────────

type Op = (s: OrgStore) => Promise<unknown>

/** 50 mixed operations on three participants (two of which exist beforehand, see below), from a seed. */
async function mixedOps (seed: number): Promise<Op[]> {
  const rnd = mulberry32(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T
  const pids = ['p0', 'p1', 'p2']
  const did = (pid: string): string => `did:web:example.com:org:${pid}`
  const keyIds = ['key-1', 'key-2', 'k-a', 'k-b']
  const credIds = ['urn:c:1', 'urn:c:2']
  const ops: Op[] = []
  for (let i = 0; i < 50; i++) {
    const pid = pick(pids)
    const r = rnd()
    if (r < 0.10) {
      const active = rnd() < 0.5
      const key = rnd() < 0.3 ? { publicKeyJwk: publicJwk() } : {}
      ops.push(async s => await s.createParticipant({ participantId: pid, did: did(pid), active, key }))
    } else if (r < 0.16) {
      ops.push(async s => { await s.deleteParticipant(pid) })
    } else if (r < 0.30) {
      const spec = { ...(rnd() < 0.6 ? { keyId: pick(['k-a', 'k-b']) } : {}), ...(rnd() < 0.2 ? { publicKeyJwk: publicJwk() } : {}), activate: rnd() < 0.5, ...(rnd() < 0.2 ? { isDefault: true } : {}) }
      ops.push(async s => await s.createKeyPair(pid, spec))
    } else if (r < 0.44) {
      const keyId = pick(keyIds)
      const successor = rnd() < 0.6 ? { ...(rnd() < 0.5 ? { keyId: pick(['k-a', 'k-b']) } : {}), ...(rnd() < 0.2 ? { publicKeyJwk: publicJwk() } : {}) } : undefined
      ops.push(async s => await s.rotateKeyPair(pid, keyId, successor))
    } else if (r < 0.52) {
      const keyId = pick(keyIds)
      ops.push(async s => await s.revokeKeyPair(pid, keyId))
    } else if (r < 0.58) {
      const keyId = pick(keyIds)
      ops.push(async s => await s.activateKeyPair(pid, keyId))
    } else if (r < 0.64) {
      const activate = rnd() < 0.5
      ops.push(async s => activate ? await s.activateParticipant(pid) : await s.deactivateParticipant(pid))
    } else if (r < 0.68) {
      const publish = rnd() < 0.5
      ops.push(async s => publish ? await s.publishDid(pid) : await s.unpublishDid(pid))
    } else if (r < 0.74) {
      const add = rnd() < 0.6
      ops.push(async s => add ? await s.addService(pid, { id: '#svc', type: 'X', serviceEndpoint: 'https://x.example' }) : await s.removeService(pid, '#svc'))
    } else if (r < 0.86) {
      const jwt = await vcJwt(pick(credIds), rnd() < 0.7 ? did(pid) : undefined)
      ops.push(async s => await s.storeCredentials(pid, [jwt]))
    } else if (r < 0.92) {
      const id = pick(credIds)
      const revoke = rnd() < 0.5
      ops.push(async s => revoke ? await s.revokeCredential(pid, id) : await s.deleteCredential(pid, id))
    } else {
      ops.push(async s => await s.regenerateApiKey(pid))
    }
  }
  return ops
}

/** The state of a store without its random parts (keys, timestamps, API key hashes). */
async function summary (s: OrgStore): Promise<unknown> {
  const out: unknown[] = []
  for (const p of await s.listParticipants()) {
    const d = await s.getDid(p.participantId)
    out.push({
      p: [p.participantId, p.did, p.state],
      did: [d.state, d.services.map(x => x.id)],
      keys: (await s.listKeyPairs(p.participantId)).map(k => [k.keyId, k.state, k.isDefault, k.hasPrivateKey, k.successor]),
      creds: (await s.listCredentials(p.participantId)).map(c => [c.credentialId, c.state, c.subjectId])
    })
  }
  return out
}

describe('OrgStore: concurrent operations', () => {
  it.each([1, 2, 3, 4])('50 mixed operations at once keep the records consistent and serialize (seed %i)', async (seed) => {
    const ops = await mixedOps(seed)
    const outcome = (r: PromiseSettledResult<unknown>): string => r.status === 'fulfilled' ? 'ok' : (r.reason as HubError).code ?? String(r.reason)

    const a = await openEnv()
    const b = await openEnv()
    for (const env of [a, b]) {
      await env.store.createParticipant({ participantId: 'p0', did: 'did:web:example.com:org:p0', active: true })
      await env.store.createKeyPair('p0', { keyId: 'k-a' })
      await env.store.storeCredentials('p0', [await vcJwt('urn:c:1', 'did:web:example.com:org:p0')])
      await env.store.createParticipant({ participantId: 'p1', did: 'did:web:example.com:org:p1' })
      await env.store.createKeyPair('p1', { keyId: 'k-b', activate: true })
      env.events.length = 0
    }

    const concurrent = await Promise.allSettled(ops.map(op => op(a.store)))
    const sequential: Array<PromiseSettledResult<unknown>> = []
    for (const op of ops) sequential.push(...await Promise.allSettled([op(b.store)]))

    for (const r of concurrent) {
      if (r.status === 'rejected') {
        expect(r.reason).toBeInstanceOf(HubError)
        expect((r.reason as HubError).code, (r.reason as Error).message).not.toBe('internal')
      }
    }
    expect(concurrent.filter(r => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(10)
    expect(await checkInvariants(a.kv, a.vault)).toEqual([])
    expect(await checkInvariants(b.kv, b.vault)).toEqual([])
    // Operations run one at a time in call order: same outcomes, events and records as one after the other.
    expect(concurrent.map(outcome)).toEqual(sequential.map(outcome))
    expect(a.events).toEqual(b.events)
    expect(await summary(a.store)).toEqual(await summary(b.store))
  })
})

// ── vault ───────────────────────────────────────────────────────────────

/** Every way `bytes` could show up in text. */
function encodings (bytes: Uint8Array): string[] {
  const b = Buffer.from(bytes)
  return [b.toString('hex'), b.toString('base64'), b.toString('base64url'), b.toString('hex').toUpperCase(), [...b].join(','), b.toString('latin1')]
}

function allText (err: unknown): string {
  const parts: string[] = [inspect(err, { depth: 10, showHidden: true }), String(err)]
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    parts.push(e.message, e.stack ?? '', JSON.stringify(e))
  }
  return parts.join('\n')
}

describe('Vault', () => {
  const name = orgKeys.privateKey('acme', 'key-1')

  it('opens what it sealed, under the same name only', () => {
    const vault = new Vault(randomBytes(32))
    const seed = randomBytes(32)
    const sealed = vault.seal(seed, name)
    expect(Buffer.from(vault.open(sealed, name))).toEqual(seed)
    for (const other of [orgKeys.privateKey('acme', 'key-2'), orgKeys.privateKey('beta', 'key-1'), name + ' ', '']) {
      expect(() => vault.open(sealed, other)).toThrow(HubError)
    }
  })

  it('a different root secret does not open it', () => {
    const sealed = new Vault(randomBytes(32)).seal(randomBytes(32), name)
    const err = (() => { try { new Vault(randomBytes(32)).open(sealed, name) } catch (e) { return e } })()
    expect(err).toBeInstanceOf(HubError)
    expect((err as HubError).code).toBe('internal')
  })

  it('refuses a root secret shorter than 32 bytes', () => {
    expect(() => new Vault(randomBytes(16))).toThrow(TypeError)
  })

  it('a sealed key moved to another record in the store does not open there', async () => {
    const env = await fixtureEnv()
    // acme's key-1 sealed key moved onto k-active (same participant) and onto beta's key-1 (another one).
    const sk = (await env.kv.get(orgKeys.privateKey('acme', 'key-1')))!
    await env.kv.batch([
      { type: 'put', key: orgKeys.privateKey('acme', 'k-active'), value: sk },
      { type: 'put', key: orgKeys.privateKey('beta', 'key-1'), value: sk }
    ])
    await env.store.revokeKeyPair('acme', 'key-1') // k-active is now acme's signing key
    await expect(env.store.signingKey('acme')).rejects.toMatchObject({ code: 'internal' })
    await expect(env.store.signingKey('beta')).rejects.toMatchObject({ code: 'internal' })
    const problems = await checkInvariants(env.kv, env.vault)
    expect(problems).toContain('org!sk!acme!k-active: does not open with this hub\'s vault under its own name')
    expect(problems).toContain('org!sk!beta!key-1: does not open with this hub\'s vault under its own name')
  })

  it('a store opened with another hub\'s vault cannot sign', async () => {
    const env = await fixtureEnv()
    const other = new OrgStore({ kv: env.kv, vault: new Vault(randomBytes(32)) })
    await expect(other.signingKey('acme')).rejects.toMatchObject({ code: 'internal' })
    expect((await checkInvariants(env.kv, new Vault(randomBytes(32)))).length).toBeGreaterThan(0)
    const key = await env.store.signingKey('acme')
    expect(key.kid).toBe(`${ACME}#key-1`)
  })

  it('errors never contain key material', async () => {
    const root = randomBytes(32)
    const vault = new Vault(root)
    const seed = randomBytes(32)
    const sealed = vault.seal(seed, name)
    const box = JSON.parse(Buffer.from(sealed).toString('utf8')) as Record<string, unknown>
    const reseal = (patch: Record<string, unknown>): Uint8Array => new TextEncoder().encode(JSON.stringify({ ...box, ...patch }))
    const attempts: Array<() => unknown> = [
      () => vault.open(sealed, orgKeys.privateKey('acme', 'key-2')),
      () => new Vault(randomBytes(32)).open(sealed, name),
      () => vault.open(reseal({ tag: Buffer.alloc(16).toString('base64url') }), name),
      () => vault.open(reseal({ ct: Buffer.from(seed).toString('base64url') }), name),
      () => vault.open(reseal({ v: 2 }), name),
      () => vault.open(reseal({ iv: 'x' }), name),
      () => vault.open(sealed.slice(0, sealed.length - 5), name),
      () => vault.open(seed, name),
      () => vault.open(new TextEncoder().encode(Buffer.from(seed).toString('hex')), name)
    ]
    const secrets = [...encodings(seed), ...encodings(root)]
    for (const [i, attempt] of attempts.entries()) {
      let err: unknown
      try { attempt() } catch (e) { err = e }
      expect(err, `attempt ${i}`).toBeInstanceOf(HubError)
      const text = allText(err)
      for (const s of secrets) expect(text.includes(s), `attempt ${i} leaks key material: ${text}`).toBe(false)
    }
  })

  it('the store holds no private key in the clear, and what it hands out does not show it', async () => {
    const env = await fixtureEnv()
    const all = await dump(env.kv)
    const raw = [...all.values()].map(v => Buffer.from(v, 'base64'))
    const keys = await env.store.listKeyPairs('acme')
    expect(keys.filter(k => k.hasPrivateKey).map(k => k.keyId)).toEqual(['k-active', 'k-created', 'key-1'])
    for (const k of keys.filter(k => k.hasPrivateKey)) {
      const skName = orgKeys.privateKey('acme', k.keyId)
      const seed = env.vault.open((await env.kv.get(skName))!, skName)
      expect(Ed25519KeyPair.fromSeed(seed).publicJwk().x).toBe(k.publicKeyJwk.x)
      for (const v of raw) expect(v.includes(Buffer.from(seed)), k.keyId).toBe(false)
      for (const enc of encodings(seed)) {
        for (const v of raw) expect(v.toString('latin1').includes(enc), k.keyId).toBe(false)
        expect(JSON.stringify(keys).includes(enc)).toBe(false)
      }
      expect(k.publicKeyJwk).not.toHaveProperty('d')
    }
    const signing = await env.store.signingKey('acme')
    const seed = env.vault.open((await env.kv.get(name))!, name)
    const shown = [inspect(signing, { depth: 10, showHidden: true }), JSON.stringify(signing), String(signing)].join('\n')
    for (const enc of encodings(seed)) expect(shown.includes(enc)).toBe(false)
  })
})
