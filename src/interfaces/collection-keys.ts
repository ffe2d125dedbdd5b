/**
 * Encrypted collections: creating a collection's content key and sealing it
 * in a key envelope (a `Keys` object) to every reader — the owner DID and
 * each owner device (by the X25519 key-agreement key of their did:key) —
 * and adding readers later (a newly paired device). Blind hubs are never
 * recipients. The collection's names travel inside the envelope object,
 * encrypted under the content key, so a blind hub learns only the tag.
 */
import { ConflictError, PermissionsRequiredError } from '../errors.js'
import { utf8 } from '../identity/encoding.js'
import type { Signer } from '../identity/keys.js'
import { newContentKey } from '../encryption/content-keys.js'
import { addRecipients, encryptPayload, sealKeyEnvelope, type EnvelopeOpener, type EnvelopeRecipient } from '../encryption/jwe.js'
import { KEY_ENVELOPE_TYPE, namesAad, type CollectionKey } from '../encryption/keyring.js'
import { collectionTag } from '../encryption/tags.js'
import { HUB_NS } from '../permissions/registry.js'
import type { TenantStore } from '../store/tenant-store.js'
import type { JsonObject } from '../objects/json.js'

// Who can receive and open key envelopes: one home, encryption/parties.ts (the store's doctor needs it too).
export { openerOf, recipientOf } from '../encryption/parties.js'
import { recipientOf } from '../encryption/parties.js'

export class CollectionKeys {
  readonly #store: TenantStore
  readonly #signer: Signer
  readonly #secret: Uint8Array | undefined
  readonly #openers: EnvelopeOpener[]
  readonly #holdsPlaintext: (context: string, type: string) => Promise<boolean>

  constructor (args: {
    store: TenantStore
    signer: Signer
    tenantSecret: Uint8Array | undefined
    openers: EnvelopeOpener[]
    /** Does the collection hold live plaintext objects (from the indexes)? */
    holdsPlaintext: (context: string, type: string) => Promise<boolean>
  }) {
    this.#holdsPlaintext = args.holdsPlaintext
    this.#store = args.store
    this.#signer = args.signer
    this.#secret = args.tenantSecret
    this.#openers = args.openers
  }

  /**
   * Who may read an encrypted collection: the owner, every live owner
   * device, and — for a named collection — every live grantee with `R` on it
   * (did:key grantees; other DID methods cannot be sealed to yet).
   */
  readers (names?: { context: string, type: string }): EnvelopeRecipient[] {
    const dids = new Set<string>([this.#store.tenant])
    for (const d of this.#store.registry.liveDevices()) if (d.role === 'owner-device') dids.add(d.device)
    if (names !== undefined) {
      const now = Date.now()
      for (const g of this.#store.registry.liveGrants()) {
        if (g.context === names.context && g.type === names.type && g.allow[1] === 'R' && g.objectId === undefined &&
            (g.expiresAt === undefined || now < g.expiresAt) && g.grantee.startsWith('did:key:')) dids.add(g.grantee)
      }
    }
    return [...dids].map(recipientOf)
  }

  /** The collection's current key, if it is encrypted and this hub can read it. */
  current (context: string, type: string): CollectionKey | undefined {
    return this.#store.keyring.currentByNames(context, type)
  }

  /**
   * Make a collection encrypted (idempotent): its first content key, sealed
   * to every reader. Objects created before cannot be encrypted in place
   * (their commits are signed, and their updates keep their form), so a
   * collection that already holds plaintext objects is refused with
   * `conflict` unless `keepPlaintext` says the caller knows they stay so:
   * nobody should believe a collection is encrypted when part of it is not.
   */
  async encrypt (context: string, type: string, opts: { keepPlaintext?: boolean } = {}): Promise<CollectionKey> {
    const current = this.current(context, type)
    if (current !== undefined) return current
    if (opts.keepPlaintext !== true) {
      if (await this.#holdsPlaintext(context, type)) {
        throw new ConflictError(`${context} ${type} already holds plaintext objects, which cannot be encrypted in place ` +
          '(their commits are signed and immutable, and their updates stay plaintext); nothing was changed. ' +
          'Encrypt it anyway with keepPlaintext (CLI: --keep-plaintext); to protect an old object, write its value as a new object and delete the old one.',
        { plaintextObjects: true })
      }
    }
    return await this.#seal(context, type, 1)
  }

  /** A new key version for the collection; later commits use it (e.g. after a reader is removed). */
  async rotate (context: string, type: string): Promise<CollectionKey> {
    const cur = this.current(context, type)
    if (cur === undefined) throw new ConflictError('the collection is not encrypted')
    return await this.#seal(context, type, cur.version + 1)
  }

  async #seal (context: string, type: string, version: number): Promise<CollectionKey> {
    if (this.#secret === undefined) throw new PermissionsRequiredError('only an owner device (holding the tenant secret) can key a collection')
    const tag = collectionTag(this.#secret, context, type)
    const key = newContentKey(tag, version)
    const value: JsonObject = {
      '@context': HUB_NS,
      '@type': KEY_ENVELOPE_TYPE,
      tag,
      version,
      envelope: sealKeyEnvelope(key, this.readers({ context, type })) as unknown as JsonObject,
      names: encryptPayload(key, utf8.encode(JSON.stringify({ context, type })), namesAad(tag, version))
    }
    await this.#store.create({ iface: 'Keys', value, context: HUB_NS, type: KEY_ENVELOPE_TYPE, strategy: 'lww', signer: this.#signer })
    const made = this.#store.keyring.get(key.kid)
    if (made === undefined) throw new ConflictError('the new key envelope did not open on this hub')
    return made
  }

  /**
   * Add readers to every envelope this hub can open — of all collections (a
   * newly paired device), or of one (a new read grantee). Returns how many
   * envelopes were re-sealed.
   */
  async addReaders (dids: string[], only?: { context: string, type: string }): Promise<number> {
    const recipients = dids.map(recipientOf)
    let n = 0
    for (const k of this.#store.keyring.all()) {
      if (only !== undefined && (k.context !== only.context || k.type !== only.type)) continue
      const meta = await this.#store.getMeta(k.objectId)
      const v = meta?.value
      if (v === undefined) continue
      const holder = this.#openers.find(o => JSON.stringify(v.envelope).includes(o.kid))
      if (holder === undefined) continue
      const present = JSON.stringify(v.envelope)
      const missing = recipients.filter(r => !present.includes(r.kid))
      if (missing.length === 0) continue
      const envelope = addRecipients(v.envelope, holder, missing) as unknown as JsonObject
      const r = await this.#store.update(k.objectId, { ...v, envelope }, this.#signer)
      if (r.changed) n++
    }
    return n
  }
}
