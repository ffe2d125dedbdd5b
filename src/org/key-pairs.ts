/**
 * Key pairs of a participant and their sealed private keys.
 *
 * CREATED → ACTIVATED → ROTATED | REVOKED (types.ts). A generated key's
 * private half is sealed by the vault under its own key name (so a sealed
 * key cannot be moved to another record) in the same batch as its record,
 * and destroyed in the same batch as the record leaves ACTIVATED: a key
 * record and its private key never disagree on disk.
 */
import { createPublicKey } from 'node:crypto'
import type { JWK } from 'jose'
import { AlreadyExistsError, BadRequestError, ConflictError, HubError } from '../errors.js'
import { Ed25519KeyPair } from '../identity/keys.js'
import type { OrgTransactions, Tx } from './engine.js'
import { checkKeyId } from './id-checks.js'
import { orgKeys } from './layout.js'
import type { OrgOperation } from './operations.js'
import { loadKeyPair, loadParticipant } from './records.js'
import type { KeyPairResource } from './types.js'
import type { Vault } from './vault.js'

export interface KeySpec {
  keyId?: string
  /** Import this public key instead of generating a pair (the hub then cannot sign with it). */
  publicKeyJwk?: JWK
  /** Activate at once (default: true for a participant's first key, false otherwise). */
  activate?: boolean
  /** Make it the signing key (default: when the participant has no default key). */
  isDefault?: boolean
}

export interface SigningKey {
  readonly did: string
  readonly kid: string
  sign (data: Uint8Array): Uint8Array
}

export interface KeyPairsComponents {
  engine: OrgTransactions
  vault: Pick<Vault, 'seal' | 'open'>
}

/** What a new key pair belongs to, and the defaults its spec falls back on. */
interface NewKeyContext {
  participant: { participantId: string, did: string }
  existing: KeyPairResource[]
  defaults: { activate: boolean, isDefault: boolean }
}

/** Normalise and check an imported public JWK; refuse private material outright. */
function importPublicJwk (jwk: unknown): JWK {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new BadRequestError('publicKeyJwk must be a JWK object')
  const j = jwk as Record<string, unknown>
  if ('d' in j || 'p' in j || 'k' in j) throw new BadRequestError('publicKeyJwk contains private key material: send only the public key')
  try {
    const exported = createPublicKey({ key: j as never, format: 'jwk' }).export({ format: 'jwk' }) as JWK
    return exported
  } catch (err) {
    throw new BadRequestError(`publicKeyJwk is not a usable public key: ${(err as Error).message}`)
  }
}

function nextKeyId (existing: KeyPairResource[]): string {
  let n = existing.length + 1
  while (existing.some(k => k.keyId === `key-${n}`)) n++
  return `key-${n}`
}

/** Stage: no key other than `except` keeps the default role. */
function clearDefault (tx: Tx, keys: KeyPairResource[], except: string): void {
  for (const k of keys) if (k.isDefault && k.keyId !== except) tx.put(orgKeys.keyPair(k.participantId, k.keyId), { ...k, isDefault: false })
}

export class KeyPairs {
  readonly #engine: OrgTransactions
  readonly #vault: Pick<Vault, 'seal' | 'open'>

  constructor (components: KeyPairsComponents) {
    this.#engine = components.engine
    this.#vault = components.vault
  }

  /**
   * Build a key pair record and stage it with its sealed private key and
   * events, without writing anything else: participant creation and key
   * rotation make a key inside their own operation. Passes `seal-private-key`.
   */
  stage (op: OrgOperation, tx: Tx, spec: KeySpec, ctx: NewKeyContext): KeyPairResource {
    const { participant: p, existing, defaults } = ctx
    const keyId = spec.keyId !== undefined ? checkKeyId(spec.keyId) : nextKeyId(existing)
    if (existing.some(k => k.keyId === keyId)) throw new AlreadyExistsError(`participant "${p.participantId}" already has a key pair "${keyId}"`, { keyId })
    const now = this.#engine.iso()
    let publicKeyJwk: JWK
    let seed: Uint8Array | undefined
    if (spec.publicKeyJwk !== undefined) {
      publicKeyJwk = importPublicJwk(spec.publicKeyJwk)
    } else {
      const pair = Ed25519KeyPair.generate()
      publicKeyJwk = pair.publicJwk()
      seed = pair.exportSeed()
    }
    const active = spec.activate ?? defaults.activate
    const record: KeyPairResource = {
      participantId: p.participantId,
      keyId,
      kid: `${p.did}#${keyId}`,
      publicKeyJwk,
      state: active ? 'ACTIVATED' : 'CREATED',
      isDefault: spec.isDefault ?? defaults.isDefault,
      hasPrivateKey: seed !== undefined,
      createdAt: now,
      ...(active ? { activatedAt: now } : {})
    }
    tx.put(orgKeys.keyPair(p.participantId, keyId), record)
    this.#engine.step(op, 'seal-private-key')
    if (seed !== undefined) tx.putBytes(orgKeys.privateKey(p.participantId, keyId), this.#vault.seal(seed, orgKeys.privateKey(p.participantId, keyId)))
    tx.events.push({ type: 'keypair.created', participantId: p.participantId, keyId })
    if (active) tx.events.push({ type: 'keypair.activated', participantId: p.participantId, keyId })
    return record
  }

  async list (pid: string): Promise<KeyPairResource[]> {
    const p = await loadParticipant(this.#engine, pid)
    return await this.#engine.list<KeyPairResource>(orgKeys.keyPairsPrefix(p.participantId))
  }

  async get (pid: string, keyId: string): Promise<KeyPairResource> {
    const p = await loadParticipant(this.#engine, pid)
    return await loadKeyPair(this.#engine, p.participantId, keyId)
  }

  async create (pid: string, spec: KeySpec): Promise<KeyPairResource> {
    const op = 'keypair.create'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      const keys = await e.list<KeyPairResource>(orgKeys.keyPairsPrefix(p.participantId))
      e.step(op, 'key-pair')
      const hasDefault = keys.some(k => k.isDefault && k.state === 'ACTIVATED')
      const record = this.stage(op, tx, spec, { participant: p, existing: keys, defaults: { activate: false, isDefault: !hasDefault } })
      if (record.isDefault) clearDefault(tx, keys, record.keyId)
      return record
    })
  }

  async activate (pid: string, keyId: string): Promise<KeyPairResource> {
    const op = 'keypair.activate'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      const k = await loadKeyPair(e, p.participantId, keyId)
      e.step(op, 'transition')
      if (k.state !== 'CREATED') throw new ConflictError(`key pair "${keyId}" is ${k.state}: only a CREATED key pair can be activated`, { state: k.state })
      const next: KeyPairResource = { ...k, state: 'ACTIVATED', activatedAt: e.iso() }
      tx.put(orgKeys.keyPair(p.participantId, k.keyId), next)
      tx.events.push({ type: 'keypair.activated', participantId: p.participantId, keyId: k.keyId })
      return next
    })
  }

  async rotate (pid: string, keyId: string, successor?: KeySpec): Promise<{ rotated: KeyPairResource, successor?: KeyPairResource }> {
    const op = 'keypair.rotate'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      const k = await loadKeyPair(e, p.participantId, keyId)
      const keys = await e.list<KeyPairResource>(orgKeys.keyPairsPrefix(p.participantId))
      e.step(op, 'transition')
      if (k.state !== 'ACTIVATED') throw new ConflictError(`key pair "${keyId}" is ${k.state}: only an ACTIVATED key pair can be rotated`, { state: k.state })
      const now = e.iso()
      const rotated: KeyPairResource = { ...k, state: 'ROTATED', rotatedAt: now, isDefault: false, hasPrivateKey: false }
      e.step(op, 'destroy-private-key')
      tx.del(orgKeys.privateKey(p.participantId, k.keyId))
      e.step(op, 'successor')
      let next: KeyPairResource | undefined
      if (successor !== undefined) {
        next = this.stage(op, tx, successor, { participant: p, existing: keys, defaults: { activate: true, isDefault: k.isDefault } })
        rotated.successor = next.keyId
        if (next.isDefault) clearDefault(tx, keys.filter(x => x.keyId !== k.keyId), next.keyId)
      } else {
        // The step list is the same with or without a successor, so tests can fail every variant at every step.
        e.step(op, 'seal-private-key')
      }
      tx.put(orgKeys.keyPair(p.participantId, k.keyId), rotated)
      tx.events.push({ type: 'keypair.rotated', participantId: p.participantId, keyId: k.keyId, ...(next !== undefined ? { successor: next.keyId } : {}) })
      return next !== undefined ? { rotated, successor: next } : { rotated }
    })
  }

  async revoke (pid: string, keyId: string): Promise<KeyPairResource> {
    const op = 'keypair.revoke'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      const k = await loadKeyPair(e, p.participantId, keyId)
      e.step(op, 'transition')
      if (k.state === 'REVOKED') throw new ConflictError(`key pair "${keyId}" is already REVOKED`, { state: k.state })
      const revoked: KeyPairResource = { ...k, state: 'REVOKED', revokedAt: e.iso(), isDefault: false, hasPrivateKey: false }
      e.step(op, 'destroy-private-key')
      tx.del(orgKeys.privateKey(p.participantId, k.keyId))
      tx.put(orgKeys.keyPair(p.participantId, k.keyId), revoked)
      tx.events.push({ type: 'keypair.revoked', participantId: p.participantId, keyId: k.keyId })
      return revoked
    })
  }

  /**
   * The key the participant signs with: its default key if ACTIVATED and
   * ours, else the newest ACTIVATED key we hold the private half of.
   */
  async signingKey (pid: string): Promise<SigningKey> {
    const e = this.#engine
    // Reads do not go through the operation queue, so a rotation, revocation
    // or delete can commit between listing the keys and reading the chosen
    // sealed key: then choose again (a sealed key that stays missing is damage).
    for (let attempt = 1; ; attempt++) {
      const p = await loadParticipant(e, pid)
      const keys = (await e.list<KeyPairResource>(orgKeys.keyPairsPrefix(p.participantId)))
        .filter(k => k.state === 'ACTIVATED' && k.hasPrivateKey)
        .sort((a, b) => Number(b.isDefault) - Number(a.isDefault) || b.createdAt.localeCompare(a.createdAt))
      const k = keys[0]
      if (k === undefined) throw new ConflictError(`participant "${pid}" has no ACTIVATED key pair with a private key to sign with`)
      const name = orgKeys.privateKey(p.participantId, k.keyId)
      const sealed = await e.get(name)
      if (sealed === undefined) {
        if (attempt < 3) continue
        throw new HubError('internal', `the private key of "${k.keyId}" is missing`)
      }
      const pair = Ed25519KeyPair.fromSeed(this.#vault.open(sealed, name))
      return { did: p.did, kid: k.kid, sign: data => pair.sign(data) }
    }
  }

  /** A public key of this participant that may still verify: ACTIVATED or ROTATED, never REVOKED. */
  async verificationKey (pid: string, kid: string): Promise<JWK | undefined> {
    const p = await loadParticipant(this.#engine, pid)
    const hash = kid.indexOf('#')
    if (hash < 0 || kid.slice(0, hash) !== p.did) return undefined
    const k = await this.#engine.json<KeyPairResource>(orgKeys.keyPair(p.participantId, kid.slice(hash + 1)))
    return k !== undefined && (k.state === 'ACTIVATED' || k.state === 'ROTATED') ? k.publicKeyJwk : undefined
  }
}
