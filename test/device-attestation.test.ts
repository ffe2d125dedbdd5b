/**
 * Device attestations across owners (FINDING 6): a hub pulling another
 * owner's share presents a short-lived attestation by its own owner, not its
 * never-expiring DeviceAuthorization, so a device its owner revoked loses the
 * share once the last attestation it obtained expires.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { FrameChannel } from '../src/net/channel.js'
import { SYNC_PROTOCOL } from '../src/net/constants.js'
import { validateSyncServerMessage } from '../src/net/messages.js'
import { Ed25519KeyPair, type Signer } from '../src/identity/keys.js'
import { signAttestation } from '../src/permissions/attestation.js'
import { signJws } from '../src/request/token.js'
import type { AuditEntry } from '../src/store/audit.js'
import { cleanup, playlist } from './helpers.js'
import { device, eventually, founder, stopAll, type Running } from './net-helpers.js'
import { RawClient } from './raw-request-client.js'

const CTX = 'https://schema.org'
const raws: RawClient[] = []
afterEach(async () => {
  for (const r of raws.splice(0)) await r.close().catch(() => {})
  await stopAll()
  await cleanup()
})

async function rawClient (to: Running, identity: Ed25519KeyPair): Promise<RawClient> {
  const c = await RawClient.connect(to.node.multiaddrs()[0] as string, to.hub.did, identity)
  raws.push(c)
  return c
}

/** One hand-made pull from `from`'s libp2p node to `to`; resolves with the server's first reply. */
async function rawPull (from: Running, to: Running, as: Record<string, unknown>): Promise<unknown> {
  const stream = await from.node.libp2p.dialProtocol(to.node.libp2p.getMultiaddrs()[0] as never, SYNC_PROTOCOL)
  const ch = new FrameChannel(stream, 4 << 20)
  try {
    await ch.send({ t: 'pull', v: 1, tenant: to.hub.did, after: 0, limit: 10, wait: false, as })
    return await ch.receive(validateSyncServerMessage)
  } finally {
    ch.abort(new Error('done'))
  }
}

async function names (r: Running, owner: string): Promise<string[]> {
  const view = await r.hub.sharedBy(owner)
  return (await view.query({ context: CTX, type: 'MusicPlaylist' })).objects.map(o => String(o.value?.name)).sort()
}

async function deniedPulls (hub: Running, caller: string): Promise<AuditEntry[]> {
  return (await hub.hub.audit.list({ limit: 1000 })).filter(e => e.caller === caller && e.interface === 'Sync' && e.decision === 'denied')
}

/** The envelope of `r`'s own DeviceAuthorization (what it used to present to anyone). */
async function ownAuthorization (r: Running): Promise<object> {
  const mine = r.hub.store.registry.devices().find(d => d.device === r.hub.hubDid)
  return JSON.parse(await r.hub.store.getEnvelope(mine?.objectId as string) as string) as object
}

describe('device attestations for sharing across owners', () => {
  it("a device its owner revoked loses another owner's share once its attestation expires, and its DeviceAuthorization proves nothing", async () => {
    const alice = await founder()
    const bob = await founder() // holds Bob's owner key
    const g = await device(bob, { attestationLifetimeS: 2 }) // Bob's device G: no owner key
    expect(g.hub.ownerKey).toBeUndefined()
    await alice.hub.permissions.grant({ grantee: bob.hub.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    await alice.hub.collections.create(playlist('Before'))

    await g.node.follow(alice.hub.did, alice.node.multiaddrs())
    await eventually(async () => (await names(g, alice.hub.did)).includes('Before'), 20_000, 'G to receive the share')
    await alice.hub.collections.create(playlist('Live'))
    await eventually(async () => (await names(g, alice.hub.did)).includes('Live'), 20_000, 'the live update')
    // G got its attestations from Bob's owner hub, over the request protocol.
    expect((await bob.hub.audit.list()).some(e => e.caller === g.hub.hubDid && e.interface === 'Devices' && e.method === 'attest' && e.decision === 'allowed')).toBe(true)
    expect((await alice.hub.audit.list()).some(e => e.caller === bob.hub.did && e.method === 'pull' && e.decision === 'allowed')).toBe(true)

    // What a thief holding G's keys keeps: an attestation of its own, and G's DeviceAuthorization.
    const asG = await rawClient(bob, g.hub.hubKey)
    const kept = await asG.call('Devices', 'attest', { lifetimeS: 2 })
    expect(kept).toMatchObject({ t: 'response', result: { attestation: expect.any(String) } })
    const keptAttestation = (kept as { result: { attestation: string } }).result.attestation
    const authorization = await ownAuthorization(g)
    // The DeviceAuthorization alone was never proof for another owner, even before the revocation.
    expect(await rawPull(g, alice, { did: bob.hub.did, proof: authorization })).toMatchObject({ t: 'error', code: 'permissions_required' })

    await bob.hub.devices.revoke(g.hub.hubDid)
    // Bob's hub issues G nothing any more.
    expect(await asG.call('Devices', 'attest', {})).toMatchObject({ t: 'error', code: 'permissions_required' })
    expect((await bob.hub.audit.list()).some(e => e.caller === g.hub.hubDid && e.method === 'attest' && e.decision === 'denied')).toBe(true)

    // G cannot renew; wait until what it holds has expired.
    await eventually(() => {
      const st = g.node.followStatus()[0]
      return st?.attestation != null && Date.parse(st.attestation.expiresAt) <= Date.now() && st.attestationError !== null
    }, 20_000, "G's attestation to expire unrenewed")
    // The next commit wakes G's waiting pull; Alice re-checks it and ends the stream.
    await alice.hub.collections.create(playlist('After expiry'))
    await eventually(async () => (await deniedPulls(alice, bob.hub.did)).some(e => /attestation expired/.test(e.reason ?? '')), 30_000, 'Alice to refuse the expired attestation')
    await eventually(() => g.node.followStatus()[0]?.streaming === false, 10_000, "G's follow stream to end")
    expect(await names(g, alice.hub.did)).toEqual(['Before', 'Live'])

    // Replayed by hand once it has expired too: the kept attestation, and the DeviceAuthorization, are both refused.
    const keptExp = (JSON.parse(Buffer.from(keptAttestation.split('.')[1] as string, 'base64url').toString()) as { exp: number }).exp
    await eventually(() => Date.now() >= keptExp * 1000, 10_000, 'the kept attestation to expire')
    expect(await rawPull(g, alice, { did: bob.hub.did, attestation: keptAttestation })).toMatchObject({ t: 'error', code: 'permissions_required' })
    expect(await rawPull(g, alice, { did: bob.hub.did, proof: authorization })).toMatchObject({ t: 'error', code: 'permissions_required' })
    const reasons = (await deniedPulls(alice, bob.hub.did)).map(e => e.reason ?? '')
    expect(reasons.some(r => r.includes('no device attestation'))).toBe(true)
    expect(reasons.filter(r => r.includes('attestation expired')).length).toBeGreaterThanOrEqual(2)
    expect(await names(g, alice.hub.did)).toEqual(['Before', 'Live'])
  }, 90_000)

  it('a live device without the owner key gets attestations from its owner hub and keeps syncing across renewals', async () => {
    const alice = await founder()
    const bob = await founder()
    const d = await device(bob, { attestationLifetimeS: 4 })
    expect(d.hub.ownerKey).toBeUndefined()
    await alice.hub.permissions.grant({ grantee: bob.hub.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    await alice.hub.collections.create(playlist('First'))

    await d.node.follow(alice.hub.did, alice.node.multiaddrs())
    await eventually(async () => (await names(d, alice.hub.did)).includes('First'), 20_000, 'D to receive the share')
    const first = d.node.followStatus()[0]?.attestation
    expect(first).not.toBeNull()
    // Renewed (at half its lifetime), then the first one expires: D keeps receiving.
    await eventually(() => { const a = d.node.followStatus()[0]?.attestation; return a != null && a.issuedAt !== first?.issuedAt }, 20_000, 'a renewal')
    await eventually(() => Date.now() > Date.parse(first?.expiresAt ?? ''), 20_000, 'the first attestation to expire')
    await alice.hub.collections.create(playlist('After renewal'))
    await eventually(async () => (await names(d, alice.hub.did)).includes('After renewal'), 20_000, 'a write after the first attestation expired')
    await eventually(() => { const a = d.node.followStatus()[0]?.attestation; return a != null && Date.parse(a.expiresAt) > Date.parse(first?.expiresAt ?? '') + 2000 }, 20_000, 'a second renewal')
    await alice.hub.collections.create(playlist('Later still'))
    await eventually(async () => (await names(d, alice.hub.did)).includes('Later still'), 20_000, 'a write after a second renewal')

    const attests = (await bob.hub.audit.list()).filter(e => e.caller === d.hub.hubDid && e.method === 'attest')
    expect(attests.length).toBeGreaterThanOrEqual(3)
    expect(attests.every(e => e.decision === 'allowed')).toBe(true)
    expect(d.node.followStatus()[0]?.attestationError).toBeNull()
  }, 90_000)

  it('a forged attestation, one for another device, an expired one are refused and audited', async () => {
    const alice = await founder()
    const bob = await founder()
    const owner = bob.hub.ownerKey as Ed25519KeyPair
    await alice.hub.permissions.grant({ grantee: bob.hub.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    await alice.hub.collections.create(playlist('Shared'))
    const mallory = Ed25519KeyPair.generate()
    const carol = Ed25519KeyPair.generate()
    const otherDevice = Ed25519KeyPair.generate()
    const now = Math.floor(Date.now() / 1000)
    const claims = { typ: 'device-attestation', iss: bob.hub.did, sub: bob.hub.hubDid, role: 'owner-device', iat: now, exp: now + 600 }
    const forger: Signer = { did: owner.did, kid: owner.kid, sign: data => mallory.sign(data) }

    const hostile: Array<[string, string]> = [
      [signJws(forger, 'device-attestation+jwt', claims), 'bad_signature'],
      [signAttestation(owner, { device: otherDevice.did }).attestation, 'wrong_subject'],
      [signAttestation(owner, { device: bob.hub.hubDid, lifetimeS: 60, now: Date.now() - 3_600_000 }).attestation, 'expired'],
      [signAttestation(carol, { device: bob.hub.hubDid }).attestation, 'wrong_issuer'],
      [signJws(owner, 'device-attestation+jwt', { ...claims, exp: now + 25 * 3600 }), 'lifetime_too_long'],
      ['not.an.attestation', 'malformed']
    ]
    for (const [attestation] of hostile) {
      expect(await rawPull(bob, alice, { did: bob.hub.did, attestation })).toMatchObject({ t: 'error', code: 'permissions_required' })
    }
    const reasons = (await deniedPulls(alice, bob.hub.did)).map(e => e.reason ?? '')
    for (const [, reason] of hostile) expect(reasons.some(r => r.startsWith(`attestation ${reason}:`))).toBe(true)

    // The same pull with a valid attestation gets the share (and is audited as allowed).
    const ok = await rawPull(bob, alice, { did: bob.hub.did, attestation: signAttestation(owner, { device: bob.hub.hubDid }).attestation })
    expect(ok).toMatchObject({ t: 'batch' })
    expect((ok as { commits: unknown[] }).commits.length).toBeGreaterThan(0)
    expect((await alice.hub.audit.list()).some(e => e.caller === bob.hub.did && e.method === 'pull' && e.decision === 'allowed')).toBe(true)
  }, 60_000)

  it('Devices.attest answers only a live owner device, and only from a hub with the owner key', async () => {
    const bob = await founder()
    const d = await device(bob)
    const blind = await device(bob, { role: 'blind' })
    const stranger = Ed25519KeyPair.generate()

    const asD = await rawClient(bob, d.hub.hubKey)
    expect(await asD.call('Devices', 'attest', {})).toMatchObject({ t: 'response', result: { attestation: expect.any(String) } })
    expect(await asD.call('Devices', 'attest', { lifetimeS: 7200 })).toMatchObject({ t: 'error', code: 'bad_request' })
    // A stranger, a blind hub and the owner DID itself get none (and learn nothing of the key).
    for (const who of [stranger, blind.hub.hubKey, bob.hub.ownerKey as Ed25519KeyPair]) {
      expect(await (await rawClient(bob, who)).call('Devices', 'attest', {})).toMatchObject({ t: 'error', code: 'permissions_required' })
    }
    // A hub without the owner key issues none, even to a live owner device; a stranger is refused first.
    expect(await (await rawClient(d, bob.hub.hubKey)).call('Devices', 'attest', {})).toMatchObject({ t: 'error', code: 'unavailable' })
    expect(await (await rawClient(d, stranger)).call('Devices', 'attest', {})).toMatchObject({ t: 'error', code: 'permissions_required' })
    const denied = (await bob.hub.audit.list()).filter(e => e.method === 'attest' && e.decision === 'denied')
    expect(denied.map(e => e.caller)).toEqual(expect.arrayContaining([stranger.did, blind.hub.hubDid]))
  }, 60_000)
})
