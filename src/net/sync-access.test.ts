import { afterAll, describe, expect, it } from 'vitest'
import type { CommitEnvelope, CommitHeader } from '../commits/commit.js'
import { Ed25519KeyPair } from '../identity/keys.js'
import { silentLogger as log } from '../log.js'
import { signAttestation } from '../permissions/attestation.js'
import { cleanup, tempHub } from '../../test/helpers.js'
import { blindMayHold, SyncAccessPolicy, type AccessStore } from './sync-access.js'

afterAll(cleanup)

const header = (h: Partial<CommitHeader>): CommitHeader => h as CommitHeader

describe('blindMayHold', () => {
  it('is everything but a plaintext Collections commit', () => {
    expect(blindMayHold(header({ interface: 'Collections' }))).toBe(false)
    expect(blindMayHold(header({ interface: 'Collections', enc: {} as CommitHeader['enc'] }))).toBe(true)
    expect(blindMayHold(header({ interface: 'Permissions' }))).toBe(true)
  })
})

describe('SyncAccessPolicy', () => {
  it('gives our devices everything, a blind one only what a blind hub may hold, strangers nothing', async () => {
    const hub = await tempHub()
    const policy = new SyncAccessPolicy({ lookup: async kid => await hub.keys.resolveKey(kid), ingest: async () => {}, log })
    expect(await policy.access(hub.store, hub.hubDid, undefined)).toEqual({ all: true })
    const stranger = Ed25519KeyPair.generate().did
    expect(await policy.access(hub.store, stranger, undefined)).toBeUndefined()
    const blindStore: AccessStore = { tenant: hub.store.tenant, registry: { ...hub.store.registry, device: () => ({ role: 'blind' }) } as unknown as AccessStore['registry'] }
    const blind = await policy.access(blindStore, stranger, undefined)
    expect(blind).toMatchObject({ all: false })
    expect(blind?.all === false && blind.allows === blindMayHold).toBe(true)
  })

  it('stores an unknown device\'s owner-signed authorization of itself, and no proof naming another device', async () => {
    const hub = await tempHub()
    const mine = hub.store.registry.devices().find(d => d.device === hub.hubDid)
    const proof = JSON.parse(await hub.store.getEnvelope(mine!.objectId) as string) as CommitEnvelope
    const ingested: CommitEnvelope[] = []
    let known = false
    // A store that has not heard of the device until its proof is ingested.
    const store: AccessStore = { tenant: hub.store.tenant, registry: { device: () => known ? { role: 'owner-device' } : undefined } as unknown as AccessStore['registry'] }
    const policy = new SyncAccessPolicy({ lookup: async kid => await hub.keys.resolveKey(kid), ingest: async p => { ingested.push(p); known = true }, log })
    expect(await policy.access(store, Ed25519KeyPair.generate().did, { did: hub.did, proof })).toBeUndefined()
    expect(ingested).toEqual([])
    expect(await policy.access(store, hub.hubDid, { did: hub.did, proof })).toEqual({ all: true })
    expect(ingested).toEqual([proof])
  })

  it('refuses another owner\'s hub without a valid attestation, or without a grant to read, and says why', async () => {
    const hub = await tempHub()
    const policy = new SyncAccessPolicy({ lookup: async kid => await hub.keys.resolveKey(kid), ingest: async () => {}, log })
    const other = Ed25519KeyPair.generate()
    const peer = Ed25519KeyPair.generate().did
    const none = { did: other.did }
    expect(await policy.access(hub.store, peer, none)).toBeUndefined()
    expect(policy.refusal(none)).toMatch(/no device attestation/)
    const forDevice = signAttestation(other, { device: Ed25519KeyPair.generate().did, lifetimeS: 60 }).attestation
    const wrong = { did: other.did, attestation: forDevice }
    expect(await policy.access(hub.store, peer, wrong)).toBeUndefined()
    expect(policy.refusal(wrong)).toMatch(/^attestation /)
    const good = { did: other.did, attestation: signAttestation(other, { device: peer, lifetimeS: 60 }).attestation }
    expect(await policy.access(hub.store, peer, good)).toBeUndefined()
    expect(policy.refusal(good)).toBe(`no live grant lets ${other.did} read`)
  })
})
