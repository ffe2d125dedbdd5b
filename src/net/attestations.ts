/**
 * The short-lived device attestation this hub presents when it follows
 * another owner: our DeviceAuthorization never expires, and the other
 * owner's hub would never hear of its revocation, so it takes only a fresh
 * attestation by our owner as proof. One attestation is held (shared by
 * every follow), renewed in the background at half its life, and kept in
 * use while renewal fails until it expires.
 */
import type { KeyLookup } from '../commits/commit.js'
import { HubError, PermissionsRequiredError, toHubError } from '../errors.js'
import type { Ed25519KeyPair } from '../identity/keys.js'
import { ATTESTATION_LIFETIME_S, signAttestation, verifyAttestation } from '../permissions/attestation.js'
import type { GrantRegistry } from '../permissions/registry.js'
import type { PeerTable } from './peers.js'

/** A device attestation this hub holds (ms since the epoch). */
export interface Attested { attestation: string, issuedAt: number, expiresAt: number, renewAt: number }

/** Longest list of failures quoted in the error when no owner hub issued one. */
const MAX_FAILURES_CHARS = 500
/** Retry bounds of a failed renewal while the held attestation is still valid. */
const RETRY_MIN_MS = 250
const RETRY_MAX_MS = 5000

export interface AttestationHolderComponents {
  /** Obtain a new attestation (see obtainAttestation). */
  obtain: () => Promise<Attested>
  /** Whether renewing in the background is still wanted (the node runs and follows someone). */
  wanted: () => boolean
}

export class AttestationHolder {
  readonly #c: AttestationHolderComponents
  #held: Attested | undefined
  #obtaining: Promise<Attested> | undefined
  #error: string | undefined
  #timer: NodeJS.Timeout | undefined

  constructor (components: AttestationHolderComponents) {
    this.#c = components
  }

  /** The attestation held (it may have expired). */
  get current (): Attested | undefined { return this.#held }
  /** Why the last attempt to obtain or renew one failed, if it did. */
  get error (): string | undefined { return this.#error }

  /**
   * The one held, until its renewal time; then a new one (one attempt at a
   * time, shared by concurrent callers). If renewal fails, the one held is
   * still returned until it expires, and renewal is retried meanwhile;
   * after that this throws.
   */
  async get (renew = false): Promise<Attested> {
    const held = this.#held
    if (!renew && held !== undefined && Date.now() < held.renewAt) return held
    this.#obtaining ??= this.#c.obtain().finally(() => { this.#obtaining = undefined })
    try {
      const a = await this.#obtaining
      this.#held = a
      this.#error = undefined
      this.#schedule(a.renewAt)
      return a
    } catch (err) {
      const e = toHubError(err)
      this.#error = `${e.code}: ${e.message}`
      const now = Date.now()
      const still = this.#held
      if (still === undefined || now >= still.expiresAt) throw e
      this.#schedule(now + Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, (still.expiresAt - now) / 4)))
      return still
    }
  }

  stop (): void {
    clearTimeout(this.#timer)
  }

  #schedule (at: number): void {
    clearTimeout(this.#timer)
    if (!this.#c.wanted()) return
    // A failed renewal is not lost: get() records it in `error` (shown in
    // sync status) and retries while the held attestation lasts; once it has
    // expired the next follow pull asks again and fails with that error.
    this.#timer = setTimeout(() => { void this.get(true).catch(() => {}) }, Math.max(0, at - Date.now()))
    this.#timer.unref()
  }
}

export interface ObtainComponents {
  /** Our owner's DID and our hub DID. */
  owner: string
  hubDid: string
  /** The owner key, if this hub holds it: then it signs the attestation itself. */
  ownerKey: Ed25519KeyPair | undefined
  registry: Pick<GrantRegistry, 'device'>
  peers: PeerTable
  lookup: KeyLookup
  /** Requested lifetime; an owner hub asked over the network issues at most ATTESTATION_LIFETIME_S. */
  lifetimeS: number
  /** Ask one of our owner's hubs (by peer id) for an attestation of ours, over the request protocol. */
  ask: (peerId: string, lifetimeS: number) => Promise<string>
}

/**
 * A new attestation: signed here if this hub holds the owner key and its
 * own authorization is live; otherwise asked (`Devices.attest`) of each
 * connected live owner device in turn — those without the owner key
 * answer `unavailable`. Verified before it is used.
 */
export async function obtainAttestation (c: ObtainComponents): Promise<Attested> {
  const held = async (jws: string): Promise<Attested> => {
    const claims = await verifyAttestation(jws, { owner: c.owner, device: c.hubDid, lookup: c.lookup })
    const now = Date.now()
    return { attestation: jws, issuedAt: claims.iat * 1000, expiresAt: claims.exp * 1000, renewAt: now + (claims.exp * 1000 - now) / 2 }
  }
  if (c.ownerKey !== undefined) {
    if (c.registry.device(c.hubDid)?.role !== 'owner-device') throw new PermissionsRequiredError('this hub is not a live owner device of its owner')
    return await held(signAttestation(c.ownerKey, { device: c.hubDid, lifetimeS: c.lifetimeS }).attestation)
  }
  const failures: string[] = []
  for (const s of c.peers.values()) {
    if (!s.connected || s.hubDid === c.hubDid || c.registry.device(s.hubDid)?.role !== 'owner-device') continue
    try {
      return await held(await c.ask(s.peerId, Math.min(c.lifetimeS, ATTESTATION_LIFETIME_S)))
    } catch (err) {
      failures.push(`${s.hubDid}: ${toHubError(err).code}`)
    }
  }
  throw new HubError('unavailable', failures.length === 0
    ? 'no hub of our owner is connected to issue a device attestation'
    : `no hub of our owner issued a device attestation (${failures.join(', ').slice(0, MAX_FAILURES_CHARS)})`)
}
