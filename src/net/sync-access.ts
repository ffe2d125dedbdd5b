/**
 * Who may pull what from this hub's feed: the access policy the sync
 * server asks at every pull. Our owner's devices get everything (a blind
 * one only ciphertext and metadata); a device we have not heard of proves
 * itself with its owner-signed authorization; a hub pulling for another
 * owner proves it is that owner's device *now* with a short-lived
 * attestation, and gets what that owner's live grants let it read —
 * decided by authorize(), like every request.
 */
import type { CommitEnvelope, CommitHeader, KeyLookup } from '../commits/commit.js'
import { parseCommit, verifyCommit } from '../commits/commit.js'
import type { HubRole } from '../hub.js'
import { utf8d } from '../identity/encoding.js'
import { asDid, asObjectId } from '../ids.js'
import type { Logger } from '../log.js'
import { AttestationError, verifyAttestation } from '../permissions/attestation.js'
import { authorize, type Grant } from '../permissions/authorize.js'
import { DEVICE_TYPE, GRANT_TYPE } from '../permissions/registry.js'
import type { TenantStore } from '../store/tenant-store.js'
import type { PullMessage } from './messages.js'
import type { FeedAccess } from './sync/server.js'

/** What a blind hub may hold (and so serve): anything but a plaintext Collections commit. */
export function blindMayHold (h: CommitHeader): boolean {
  return h.interface !== 'Collections' || h.enc !== undefined
}

/** The part of a tenant store the policy reads. */
export type AccessStore = Pick<TenantStore, 'tenant' | 'registry'>

export interface SyncAccessComponents {
  lookup: KeyLookup
  /** Store an owner-signed DeviceAuthorization a peer presented (already verified here). */
  ingest: (proof: CommitEnvelope) => Promise<unknown>
  log: Logger
}

interface ProvenDevice { owner: string, role: HubRole }

/** Proofs checked, keyed by peer, owner and commit: a reconnecting device is not verified again. */
const MAX_CACHED_PROOFS = 1000

export class SyncAccessPolicy {
  readonly #c: SyncAccessComponents
  readonly #proofs = new Map<string, ProvenDevice | undefined>()
  /** Why access() refused a pull's `as`, for the audit log (the peer is told only permissions_required). */
  readonly #refusals = new WeakMap<object, string>()

  constructor (components: SyncAccessComponents) {
    this.#c = components
  }

  /** Why the pull carrying `as` was refused, if access() refused it for a reason worth auditing. */
  refusal (as: object): string | undefined {
    return this.#refusals.get(as)
  }

  /**
   * For a device of our owner whose authorization was revoked: the one
   * commit it may still receive, the owner-signed delete that revoked it.
   * Served once, just before the stream ends, so the device learns it is
   * revoked (and refuses local writes, and says so) instead of only seeing
   * its peers go silent. Nothing else: the filter admits that delete only.
   */
  revocationNotice (store: AccessStore, peer: string): FeedAccess | undefined {
    const d = store.registry.devices().find(x => x.device === peer && x.revokedAt !== undefined)
    if (d === undefined) return undefined
    return { all: false, allows: h => h.interface === 'Permissions' && h.type === DEVICE_TYPE && h.operation === 'delete' && h.object_id === d.objectId }
  }

  /**
   * What `peer` may pull from `store`: our owner's devices get everything.
   * A hub pulling for another owner (`as`, with a valid device attestation
   * of the hub by that owner) gets the commits that owner's live grants
   * let it read, plus the Permissions objects it needs to validate them:
   * device authorizations, and the grants of collections it can read.
   */
  async access (store: AccessStore, peer: string, as: PullMessage['as']): Promise<FeedAccess | undefined> {
    let device = store.registry.device(peer)
    // A device of our owner we have not heard of yet (paired through another
    // device) proves itself with its owner-signed authorization. Only owner
    // signatures make a device, so storing that commit is safe whoever sends
    // it; a revoked authorization stays revoked (we already hold its delete).
    if (device === undefined && as?.proof !== undefined && as.did === store.tenant) {
      const proof = as.proof
      if (await this.#provenDevice(peer, { did: as.did, proof }) !== undefined) {
        await this.#c.ingest(proof).catch(err => { this.#c.log.debug('device proof not stored', { peer, reason: (err as Error).message }) })
        device = store.registry.device(peer)
      }
    }
    // A blind hub gets ciphertext and metadata only: never a plaintext Collections commit.
    if (device !== undefined) return device.role === 'blind' ? { all: false, allows: blindMayHold } : { all: true }
    if (as === undefined || as.did === store.tenant) return undefined
    // Another owner's hub proves it is a device of that owner *now*, with a
    // short-lived attestation by that owner — never with its
    // DeviceAuthorization, which never expires and whose revocation this
    // hub would never hear of. Checked on every pull (the server calls us
    // again after each waiting pull), so it lapses mid-stream.
    const grantee = await this.#attestedOwner(peer, as)
    if (grantee === undefined) return undefined
    const owner = store.tenant
    const grants = (): Grant[] => store.registry.liveGrants().filter(g => g.grantee === grantee)
    const canRead = (context: string, type: string, objectId?: string): boolean => authorize({
      caller: asDid(grantee), owner, action: 'read', interface: 'Collections', context, type, ...(objectId !== undefined ? { objectId: asObjectId(objectId) } : {}), now: Date.now()
    }, grants()).allowed
    if (!grants().some(g => g.allow[1] === 'R' && canRead(g.context, g.type, g.objectId))) {
      this.#refusals.set(as, `no live grant lets ${grantee} read`)
      return undefined
    }
    return {
      all: false,
      allows: (h, id) => {
        if (h.interface === 'Permissions') {
          if (h.type === DEVICE_TYPE) return true
          if (h.type !== GRANT_TYPE) return false
          const g = store.registry.liveGrants().find(x => x.id === (h.object_id ?? id))
          return g !== undefined && canRead(g.context, g.type)
        }
        return h.interface === 'Collections' && h.context !== undefined && h.type !== undefined && canRead(h.context, h.type, h.object_id ?? id)
      }
    }
  }

  /**
   * What `peer` proves with `as`: a create DeviceAuthorization, signed by
   * `as.did`, naming `peer` as a device of that owner, with its role. Only
   * ever trusted for our own owner, whose revocations we hold.
   */
  async #provenDevice (peer: string, as: { did: string, proof: CommitEnvelope }): Promise<ProvenDevice | undefined> {
    let commit
    try {
      commit = parseCommit(as.proof, 64 * 1024)
    } catch {
      return undefined
    }
    const key = `${peer}|${as.did}|${commit.id}`
    if (this.#proofs.has(key)) return this.#proofs.get(key)
    let result: ProvenDevice | undefined
    try {
      const h = commit.header
      await verifyCommit(commit, this.#c.lookup)
      const v = JSON.parse(utf8d.decode(commit.payload)) as Record<string, unknown>
      const ok = h.interface === 'Permissions' && h.type === DEVICE_TYPE && h.operation === 'create' && h.commit_strategy === 'lww' &&
        commit.signer === as.did && h.sub === as.did && v.owner === as.did && v.device === peer && (v.role === 'owner-device' || v.role === 'blind')
      result = ok ? { owner: as.did, role: v.role as HubRole } : undefined
    } catch {
      result = undefined
    }
    if (this.#proofs.size > MAX_CACHED_PROOFS) this.#proofs.clear()
    this.#proofs.set(key, result)
    return result
  }

  /**
   * The owner `peer` pulls for, if `as` carries a valid, unexpired device
   * attestation by `as.did` naming `peer` (permissions/attestation.ts).
   * Verified afresh on every pull: nothing is cached, so expiry is exact.
   */
  async #attestedOwner (peer: string, as: NonNullable<PullMessage['as']>): Promise<string | undefined> {
    if (as.attestation === undefined) {
      this.#refusals.set(as, 'no device attestation (a DeviceAuthorization proves nothing to another owner)')
      return undefined
    }
    try {
      return (await verifyAttestation(as.attestation, { owner: as.did, device: peer, lookup: this.#c.lookup })).iss
    } catch (err) {
      const e = err instanceof AttestationError ? err : new AttestationError('malformed', (err as Error).message)
      this.#refusals.set(as, `attestation ${e.reason}: ${e.message}`)
      return undefined
    }
  }
}
