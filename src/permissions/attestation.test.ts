import { describe, expect, it } from 'vitest'
import { Ed25519KeyPair, type Signer } from '../identity/keys.js'
import { KeyResolver } from '../identity/resolver.js'
import { signJws, signRequest } from '../request/token.js'
import {
  ATTESTATION_HEADER_TYP, ATTESTATION_LIFETIME_S, AttestationError, MAX_ATTESTATION_LIFETIME_S,
  signAttestation, verifyAttestation, type AttestationReason, type VerifyAttestationOptions
} from './attestation.js'

const owner = Ed25519KeyPair.generate()
const device = Ed25519KeyPair.generate()
const other = Ed25519KeyPair.generate()
const keys = new KeyResolver()
const lookup = async (kid: string): Promise<Uint8Array> => await keys.resolveKey(kid)
const NOW = Date.UTC(2030, 0, 1)
const base = { owner: owner.did, device: device.did, lookup, now: NOW }

async function refusal (jws: unknown, opts: Partial<VerifyAttestationOptions> = {}): Promise<AttestationError> {
  try {
    await verifyAttestation(jws, { ...base, ...opts })
  } catch (err) {
    expect(err).toBeInstanceOf(AttestationError)
    return err as AttestationError
  }
  throw new Error('attestation was accepted')
}

async function expectRefused (jws: unknown, reason: AttestationReason, code: string, opts: Partial<VerifyAttestationOptions> = {}): Promise<void> {
  const e = await refusal(jws, opts)
  expect({ reason: e.reason, code: e.code, details: e.details }).toEqual({ reason, code, details: { reason } })
}

/** Sign arbitrary claims as if they were an attestation. */
function raw (signer: Signer, claims: Record<string, unknown>, typ = ATTESTATION_HEADER_TYP): string {
  return signJws(signer, typ, claims)
}

const claims = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  typ: 'device-attestation', iss: owner.did, sub: device.did, role: 'owner-device', iat: NOW / 1000, exp: NOW / 1000 + 3600, ...over
})

describe('device attestations', () => {
  it('a fresh attestation by the owner naming the device verifies, 1 h by default', async () => {
    const { attestation, claims: c } = signAttestation(owner, { device: device.did, now: NOW })
    expect(c).toEqual({ typ: 'device-attestation', iss: owner.did, sub: device.did, role: 'owner-device', iat: NOW / 1000, exp: NOW / 1000 + ATTESTATION_LIFETIME_S })
    expect(await verifyAttestation(attestation, base)).toEqual(c)
    const header = JSON.parse(Buffer.from(attestation.split('.')[0] as string, 'base64url').toString()) as Record<string, unknown>
    expect(header).toEqual({ alg: 'EdDSA', kid: owner.kid, typ: ATTESTATION_HEADER_TYP })
    // Valid until the second before exp, with no skew after it.
    expect(await verifyAttestation(attestation, { ...base, now: NOW + ATTESTATION_LIFETIME_S * 1000 - 1 })).toEqual(c)
  })

  it('refuses a forged signature', async () => {
    const forger: Signer = { did: owner.did, kid: owner.kid, sign: d => other.sign(d) }
    await expectRefused(raw(forger, claims()), 'bad_signature', 'authentication_failed')
    // A real attestation with its signature swapped for another one's.
    const a = signAttestation(owner, { device: device.did, now: NOW }).attestation.split('.')
    const b = signAttestation(owner, { device: other.did, now: NOW }).attestation.split('.')
    await expectRefused(`${a[0] as string}.${a[1] as string}.${b[2] as string}`, 'bad_signature', 'authentication_failed')
  })

  it('refuses an attestation by another owner (wrong iss), however well signed', async () => {
    await expectRefused(signAttestation(other, { device: device.did, now: NOW }).attestation, 'wrong_issuer', 'authentication_failed')
    // iss says the owner, but kid is another DID's key.
    await expectRefused(raw(other, claims()), 'wrong_issuer', 'authentication_failed')
  })

  it('refuses an attestation naming another device (wrong sub)', async () => {
    await expectRefused(signAttestation(owner, { device: other.did, now: NOW }).attestation, 'wrong_subject', 'authentication_failed')
  })

  it('refuses an expired attestation, from exp on', async () => {
    const { attestation } = signAttestation(owner, { device: device.did, lifetimeS: 2, now: NOW })
    await expectRefused(attestation, 'expired', 'authentication_failed', { now: NOW + 2000 })
    await expectRefused(attestation, 'expired', 'authentication_failed', { now: NOW + 86_400_000 })
  })

  it('tolerates 60 s of skew on iat, not more', async () => {
    const soon = signAttestation(owner, { device: device.did, now: NOW + 60_000 }).attestation
    expect((await verifyAttestation(soon, base)).iat).toBe(NOW / 1000 + 60)
    await expectRefused(signAttestation(owner, { device: device.did, now: NOW + 61_000 }).attestation, 'iat_in_future', 'authentication_failed')
  })

  it('refuses a lifetime over 24 h, or not positive; and will not sign one', async () => {
    await expectRefused(raw(owner, claims({ exp: NOW / 1000 + MAX_ATTESTATION_LIFETIME_S + 1 })), 'lifetime_too_long', 'authentication_failed')
    expect((await verifyAttestation(raw(owner, claims({ exp: NOW / 1000 + MAX_ATTESTATION_LIFETIME_S })), base)).exp).toBe(NOW / 1000 + MAX_ATTESTATION_LIFETIME_S)
    await expectRefused(raw(owner, claims({ exp: NOW / 1000 })), 'bad_lifetime', 'authentication_failed')
    expect(() => signAttestation(owner, { device: device.did, lifetimeS: MAX_ATTESTATION_LIFETIME_S + 1 })).toThrow(/lives 1 to/)
    expect(() => signAttestation(owner, { device: device.did, lifetimeS: 0 })).toThrow(/lives 1 to/)
    // A verifier may be stricter than 24 h.
    await expectRefused(signAttestation(owner, { device: device.did, lifetimeS: 7200, now: NOW }).attestation, 'lifetime_too_long', 'authentication_failed', { maxLifetimeS: 3600 })
  })

  it('refuses what is not a device attestation (claims typ, header typ, a request token, a role)', async () => {
    await expectRefused(raw(owner, claims({ typ: 'something-else' })), 'wrong_type', 'authentication_failed')
    await expectRefused(raw(owner, claims(), 'hub-request+jwt'), 'wrong_type', 'authentication_failed')
    // A request token signed by the owner is not an attestation.
    await expectRefused(signRequest(owner, device.did, 'Profile', 'read', {}, { now: NOW }), 'wrong_type', 'authentication_failed')
    await expectRefused(raw(owner, claims({ role: 'blind' })), 'wrong_role', 'authentication_failed')
  })

  it('refuses malformed input with bad_request', async () => {
    for (const bad of [undefined, 42, '', 'a.b', 'x.y.z', 'a'.repeat(5000), raw(owner, claims({ iat: 'now' }))]) {
      await expectRefused(bad, 'malformed', 'bad_request')
    }
    await expectRefused(`${Buffer.from('null').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.AA`, 'malformed', 'bad_request')
  })
})
