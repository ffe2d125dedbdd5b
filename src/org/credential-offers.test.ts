/**
 * The holder-side operations of offers, polling and renewal
 * (HOLDER_OPERATION_STEPS, and the renewal path of
 * credential-request.complete): a failure injected at any step, or a
 * failing batch, leaves the store byte for byte as it was and emits
 * nothing; the retry then succeeds and the records stay consistent
 * (invariants.ts). Also the bounds and transitions of the offer records.
 * The pattern of org-store.test.ts, over its own table of operations.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import type { KvOp, KvRange, KvStore } from '../store/kv.js'
import { LevelKv } from '../store/level-kv.js'
import { testKv } from '../../test/test-kv.js'
import { checkInvariants } from './invariants.js'
import { HOLDER_OPERATION_STEPS, InjectedFailure, MAX_PENDING_OFFERS, OrgStore, type AnyOrgOperation, type HolderOperation } from './org-store.js'
import type { OrgEvent } from './types.js'
import { Vault } from './vault.js'

class FaultyKv implements KvStore {
  failBatch = false
  batches = 0
  constructor (readonly inner: KvStore) {}
  async get (key: string): Promise<Uint8Array | undefined> { return await this.inner.get(key) }
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
  events: OrgEvent[]
  trace: Array<[AnyOrgOperation, string]>
  armed: { op: AnyOrgOperation, step: string } | undefined
}

const opened: Array<{ dir: string, kv: KvStore }> = []
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.kv.close()
    await rm(o.dir, { recursive: true, force: true })
  }
})

const ACME = 'did:web:example.com:org:acme'
const ISSUER = 'did:web:issuer.example'
const OTHER_ISSUER = 'did:web:other.example'
const issuerKey = generateKeyPairSync('ed25519')

async function vcJwt (id: string, subject: string): Promise<string> {
  return await new SignJWT({
    vc: { '@context': ['https://www.w3.org/2018/credentials/v1'], type: ['VerifiableCredential', 'MembershipCredential'], credentialSubject: { id: subject } },
    sub: subject
  })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: `${ISSUER}#key-1` })
    .setIssuer(ISSUER)
    .setJti(id)
    .setIssuedAt()
    .sign(issuerKey.privateKey)
}

async function dump (kv: KvStore): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for await (const [k, v] of kv.entries({})) out.set(k, Buffer.from(v).toString('base64'))
  return out
}

async function settle (p: Promise<unknown>): Promise<unknown> {
  return await p.then(() => undefined, (e: unknown) => e ?? new Error('rejected with nothing'))
}

/**
 * acme (ACTIVATED) holds urn:uuid:old, brought by an ISSUED request to
 * ISSUER; a renewal of it is RECEIVED (issuerPid renew-1); one more request
 * is RECEIVED (issuerPid poll-1); one offer PENDING from OTHER_ISSUER.
 */
async function fixtureEnv (): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'offers-'))
  const level = await testKv(async () => await LevelKv.open(join(dir, 'db')))
  opened.push({ dir, kv: level })
  const kv = new FaultyKv(level)
  const env: Env = { kv, vault: new Vault(randomBytes(32)), store: undefined as unknown as OrgStore, events: [], trace: [], armed: undefined }
  env.store = new OrgStore({
    kv,
    vault: env.vault,
    failpoint: (op, step) => {
      env.trace.push([op, step])
      if (env.armed !== undefined && env.armed.op === op && env.armed.step === step) throw new InjectedFailure(op, step)
    }
  })
  const s = env.store
  await s.createParticipant({ participantId: 'acme', did: ACME, active: true })
  const first = await s.createHolderRequest('acme', { issuerDid: ISSUER, credentials: ['membership'] })
  await s.updateHolderRequest('acme', first.holderPid, { status: 'RECEIVED', issuerPid: 'first-1' })
  await s.completeHolderRequest('acme', first.holderPid, { issuerDid: ISSUER, issuerPid: 'first-1', status: 'ISSUED', jwts: [await vcJwt('urn:uuid:old', ACME)] })
  const renewal = await s.createHolderRequest('acme', { issuerDid: ISSUER, credentials: ['membership'], renews: 'urn:uuid:old' })
  await s.updateHolderRequest('acme', renewal.holderPid, { status: 'RECEIVED', issuerPid: 'renew-1' })
  const polled = await s.createHolderRequest('acme', { issuerDid: ISSUER, credentials: ['other'] })
  await s.updateHolderRequest('acme', polled.holderPid, { status: 'RECEIVED', issuerPid: 'poll-1' })
  await s.receiveOffer('acme', { issuerDid: OTHER_ISSUER, credentials: ['gold'], status: 'PENDING' })
  s.on('*', e => { env.events.push(e) })
  env.trace.length = 0
  kv.batches = 0
  return env
}

async function holderPidOf (s: OrgStore, issuerPid: string): Promise<string> {
  const r = (await s.listHolderRequests('acme')).find(x => x.issuerPid === issuerPid)
  if (r === undefined) throw new Error(`no request ${issuerPid}`)
  return r.holderPid
}

async function pendingOffer (s: OrgStore): Promise<string> {
  const o = (await s.listOffers('acme')).find(x => x.status === 'PENDING')
  if (o === undefined) throw new Error('no PENDING offer')
  return o.offerId
}

interface Variant { name: string, run: (s: OrgStore) => Promise<unknown> }

const VARIANTS: Record<HolderOperation, Variant[]> = {
  'credential-offer.receive': [
    { name: 'PENDING', run: async s => await s.receiveOffer('acme', { issuerDid: ISSUER, credentials: ['membership', 'gold'], credentialTypes: ['MembershipCredential', 'GoldCredential'], offerReason: 'reissue', status: 'PENDING' }) },
    { name: 'DECLINED', run: async s => await s.receiveOffer('acme', { issuerDid: ISSUER, credentials: ['membership'], status: 'DECLINED' }) }
  ],
  'credential-offer.update': [
    { name: 'ACCEPTED', run: async s => await s.updateOffer('acme', await pendingOffer(s), { status: 'ACCEPTED', holderPid: 'h-1' }) },
    { name: 'FAILED', run: async s => await s.updateOffer('acme', await pendingOffer(s), { status: 'FAILED', reason: 'unreachable' }) }
  ],
  'holder-policy.set': [
    { name: 'trusted issuers and a lead', run: async s => await s.setHolderPolicy('acme', { accept: 'known', trustedIssuers: [ISSUER], renewalLeadS: 3600 }) },
    { name: 'none', run: async s => await s.setHolderPolicy('acme', { accept: 'none' }) }
  ],
  'credential-request.poll': [
    { name: 'still RECEIVED', run: async s => await s.recordHolderRequestPoll('acme', await holderPidOf(s, 'poll-1'), { outcome: 'received', nextPollAt: 1_000 }) },
    { name: 'given up', run: async s => await s.recordHolderRequestPoll('acme', await holderPidOf(s, 'poll-1'), { outcome: 'issued-not-delivered', nextPollAt: 1_000, fail: { reason: 'delivery_missing', retriedAs: 'h-2' } }) }
  ]
}

const OPERATIONS = Object.keys(HOLDER_OPERATION_STEPS) as HolderOperation[]

describe('offers, polling, renewal: a failure at any step leaves no trace', () => {
  it('the fixture is consistent', async () => {
    const env = await fixtureEnv()
    expect(await checkInvariants(env.kv, env.vault)).toEqual([])
  })

  describe.each(OPERATIONS)('%s', (op) => {
    it.each([...HOLDER_OPERATION_STEPS[op]])('fails at %s without a trace, then succeeds', async (step) => {
      const reachedBy: string[] = []
      for (const v of VARIANTS[op]) {
        const env = await fixtureEnv()
        const before = await dump(env.kv)
        env.armed = { op, step }
        const err = await settle(v.run(env.store))
        const hits = env.trace.filter(([o, s]) => o === op && s === step).length
        if (hits === 0) {
          expect(err, `${v.name}: failed without reaching ${step}`).toBeUndefined()
          continue
        }
        reachedBy.push(v.name)
        expect(err, v.name).toBeInstanceOf(InjectedFailure)
        expect(await dump(env.kv), `${v.name}: store changed`).toEqual(before)
        expect(env.events, `${v.name}: events emitted`).toEqual([])
        expect(env.kv.batches, v.name).toBe(0)
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
        expect(await checkInvariants(env.kv, env.vault), v.name).toEqual([])
      }
    })
  })

  it.each(['load', 'validate', 'transition', 'supersede', 'commit'])('a renewal fails at complete/%s: neither the new credential stored nor the old one removed; then both at once', async (step) => {
    const env = await fixtureEnv()
    const s = env.store
    const holderPid = await holderPidOf(s, 'renew-1')
    const before = await dump(env.kv)
    env.armed = { op: 'credential-request.complete', step }
    const run = async (): Promise<unknown> => await s.completeHolderRequest('acme', holderPid, { issuerDid: ISSUER, issuerPid: 'renew-1', status: 'ISSUED', jwts: [await vcJwt('urn:uuid:new', ACME)] })
    expect(await settle(run())).toBeInstanceOf(InjectedFailure)
    expect(await dump(env.kv)).toEqual(before)
    expect(env.events).toEqual([])
    env.armed = undefined
    await run()
    expect((await s.listCredentials('acme')).map(c => c.credentialId)).toEqual(['urn:uuid:new'])
    expect(env.events.map(e => e.type)).toEqual(['credential.stored', 'credential.deleted', 'credential.superseded', 'credential-request.updated'])
    expect(await checkInvariants(env.kv, env.vault)).toEqual([])
  })
})

describe('offer records and the holder policy', () => {
  it(`at most ${MAX_PENDING_OFFERS} PENDING offers: the next is refused (too_many) and nothing is written; DECLINED ones do not count`, async () => {
    const env = await fixtureEnv()
    const s = env.store
    for (let i = (await s.listOffers('acme')).length; i < MAX_PENDING_OFFERS; i++) await s.receiveOffer('acme', { issuerDid: ISSUER, credentials: [`c-${i}`], status: 'PENDING' })
    const before = await dump(env.kv)
    const err = await settle(s.receiveOffer('acme', { issuerDid: ISSUER, credentials: ['one-more'], status: 'PENDING' }))
    expect(err).toMatchObject({ code: 'unavailable', details: { reason: 'too_many' } })
    expect(await dump(env.kv)).toEqual(before)
    await s.receiveOffer('acme', { issuerDid: ISSUER, credentials: ['declined'], status: 'DECLINED' })
    expect((await s.listOffers('acme')).filter(o => o.status === 'PENDING')).toHaveLength(MAX_PENDING_OFFERS)
  })

  it('bad input is refused before anything is written', async () => {
    const env = await fixtureEnv()
    const s = env.store
    const before = await dump(env.kv)
    const bad: Array<Promise<unknown>> = [
      s.receiveOffer('acme', { issuerDid: ISSUER, credentials: [], status: 'PENDING' }),
      s.receiveOffer('acme', { issuerDid: ISSUER, credentials: Array.from({ length: 17 }, (_, i) => `c${i}`), status: 'PENDING' }),
      s.receiveOffer('acme', { issuerDid: 'not a did', credentials: ['x'], status: 'PENDING' }),
      s.receiveOffer('acme', { issuerDid: ISSUER, credentials: ['x'], status: 'ACCEPTED' as 'PENDING' }),
      s.setHolderPolicy('acme', { accept: 'all' }),
      s.setHolderPolicy('acme', { trustedIssuers: ['nope'] }),
      s.setHolderPolicy('acme', { renewalLeadS: -1 }),
      s.setHolderPolicy('acme', { renewalLeadS: 1.5 }),
      s.updateOffer('acme', 'no-such-offer', { status: 'ACCEPTED', holderPid: 'h' }),
      s.receiveOffer('nobody', { issuerDid: ISSUER, credentials: ['x'], status: 'PENDING' })
    ]
    for (const p of bad) expect(await settle(p)).toMatchObject({ code: expect.stringMatching(/^(bad_request|not_found)$/) })
    expect(await dump(env.kv)).toEqual(before)
  })

  it('an ACCEPTED or DECLINED offer does not move again (409); a FAILED one can still be accepted', async () => {
    const env = await fixtureEnv()
    const s = env.store
    const id = await pendingOffer(s)
    await s.updateOffer('acme', id, { status: 'FAILED', reason: 'unreachable' })
    expect(await s.updateOffer('acme', id, { status: 'ACCEPTED', holderPid: 'h-1' })).toMatchObject({ status: 'ACCEPTED', holderPid: 'h-1' })
    expect(await settle(s.updateOffer('acme', id, { status: 'ACCEPTED', holderPid: 'h-2' }))).toMatchObject({ code: 'conflict' })
    const declined = await s.receiveOffer('acme', { issuerDid: ISSUER, credentials: ['x'], status: 'DECLINED' })
    expect(await settle(s.updateOffer('acme', declined.offerId, { status: 'ACCEPTED', holderPid: 'h-3' }))).toMatchObject({ code: 'conflict' })
  })

  it('a poll of a request that is no longer RECEIVED changes nothing', async () => {
    const env = await fixtureEnv()
    const s = env.store
    const holderPid = await holderPidOf(s, 'first-1')
    const before = await dump(env.kv)
    expect(await s.recordHolderRequestPoll('acme', holderPid, { outcome: 'received', nextPollAt: 5 })).toMatchObject({ status: 'ISSUED' })
    expect(await dump(env.kv)).toEqual(before)
  })

  it('deleting the participant removes its offers and policy', async () => {
    const env = await fixtureEnv()
    const s = env.store
    await s.setHolderPolicy('acme', { accept: 'any' })
    await s.deleteParticipant('acme')
    const keys = [...(await dump(env.kv)).keys()].filter(k => k.startsWith('org!'))
    expect(keys).toEqual([])
    expect(await checkInvariants(env.kv, env.vault)).toEqual([])
  })
})
