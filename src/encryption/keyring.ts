/**
 * A tenant's content keys as this hub can use them: every key envelope
 * (a `Keys` object) this hub is a recipient of, opened with its own
 * key-agreement key (and the owner's, when it holds it). Like the grant
 * registry, it is updated inside the write queue as Keys objects apply, so
 * an encrypted commit later in the same batch already finds its key. A
 * blind hub opens nothing: its keyring stays empty and it stores ciphertext.
 *
 * One content key id may name SEVERAL keys: two owner devices that are
 * apart (offline, or their only common hub is taking over a dead
 * process's writes) can both key a collection, each minting its own
 * random version 1 (or both rotate to the same n + 1). Both Keys objects
 * reach every reader, and each device sealed commits under its own key.
 * So the keyring keeps every key per id: a payload is opened with each
 * candidate until one verifies (AES-GCM authenticates, so a wrong key
 * never yields a plaintext), and new commits are sealed under one
 * candidate every device agrees on once it has seen the same envelopes —
 * the one of the smallest Keys object id. Before, the envelope applied
 * last replaced the other, and the other device's commits under it failed
 * as `authentication_failed` on every pull, for good.
 */
import type { ObjectId } from '../ids.js'
import type { JsonObject } from '../objects/json.js'
import { utf8, utf8d } from '../identity/encoding.js'
import type { ContentKey } from './content-keys.js'
import { decryptPayload, openKeyEnvelope, type EnvelopeOpener } from './jwe.js'

export const KEY_ENVELOPE_TYPE = 'KeyEnvelope'

export interface CollectionKey {
  key: ContentKey
  tag: string
  version: number
  context: string
  type: string
  objectId: ObjectId
}

/** What the keyring needs to know of a Keys object. */
export interface KeysRecord {
  objectId: ObjectId
  type?: string
  deleted: boolean
  value?: JsonObject
}

/** The names of an encrypted collection, sealed under its own content key. */
export function namesAad (tag: string, version: number): Uint8Array {
  return utf8.encode(`identity-hub collection names v1 ${tag} ${version}`)
}

/** Of two keys, the one new commits are sealed under: the newer version; of one version, the smaller Keys object id (the same on every device). */
function preferred (a: CollectionKey, b: CollectionKey): boolean {
  return a.version !== b.version ? a.version > b.version : a.objectId < b.objectId
}

export class Keyring {
  readonly #openers: readonly EnvelopeOpener[]
  /** Per content key id, every key it names (one per Keys object), the preferred first. */
  readonly #byKid = new Map<string, CollectionKey[]>()
  readonly #byObject = new Map<string, CollectionKey>()

  constructor (openers: readonly EnvelopeOpener[]) {
    this.#openers = openers
  }

  /** The preferred key of this id (see the class comment); others may share the id: open payloads with {@link open}. */
  get (kid: string): CollectionKey | undefined { return this.#byKid.get(kid)?.[0] }

  /** Every key this id names, the preferred first. */
  candidates (kid: string): readonly CollectionKey[] { return this.#byKid.get(kid) ?? [] }

  /**
   * A payload sealed under `kid`, opened with whichever of its keys it was
   * sealed under; undefined when this hub holds no key of that id. Throws
   * the first key's `authentication_failed` when none opens it.
   */
  open (kid: string, jwe: string, aad: Uint8Array): Uint8Array | undefined {
    const keys = this.candidates(kid)
    let first: unknown
    for (const k of keys) {
      try {
        return decryptPayload(k.key, jwe, aad)
      } catch (err) {
        first ??= err
      }
    }
    if (keys.length === 0) return undefined
    throw first
  }

  /** The newest key of a collection, by tag. */
  current (tag: string): CollectionKey | undefined {
    let best: CollectionKey | undefined
    for (const k of this.#byObject.values()) if (k.tag === tag && (best === undefined || preferred(k, best))) best = k
    return best
  }

  /** The newest key of a collection, by its names (only hubs holding a key know them). */
  currentByNames (context: string, type: string): CollectionKey | undefined {
    let best: CollectionKey | undefined
    for (const k of this.#byObject.values()) if (k.context === context && k.type === type && (best === undefined || preferred(k, best))) best = k
    return best
  }

  /** Every key, one per Keys object (several may share an id). */
  all (): CollectionKey[] { return [...this.#byObject.values()] }

  #set (objectId: string, entry: CollectionKey | undefined): void {
    const old = this.#byObject.get(objectId)
    if (old !== undefined) {
      const rest = (this.#byKid.get(old.key.kid) ?? []).filter(k => k.objectId !== objectId)
      if (rest.length === 0) this.#byKid.delete(old.key.kid); else this.#byKid.set(old.key.kid, rest)
      this.#byObject.delete(objectId)
    }
    if (entry === undefined) return
    this.#byObject.set(objectId, entry)
    const list = [...(this.#byKid.get(entry.key.kid) ?? []), entry].sort((a, b) => preferred(a, b) ? -1 : 1)
    this.#byKid.set(entry.key.kid, list)
  }

  /**
   * A Keys object that no longer exists: its create was quarantined (made by
   * a device after its revocation, applied here before the revocation
   * arrived). Its key goes, as it would after a reopen (the keyring is
   * rebuilt from the metas, and a quarantined create has none); before, it
   * stayed until then and new commits kept being sealed under the revoked
   * device's key (test/attacks-2026-12-04.test.ts). Returns an undo.
   */
  forget (objectId: string): () => void {
    const prev = this.#byObject.get(objectId)
    this.#set(objectId, undefined)
    return () => { this.#set(objectId, prev) }
  }

  /** Apply the new state of a Keys object; returns an undo. Envelopes we cannot open are ignored. */
  apply (rec: KeysRecord): () => void {
    const prev = this.#byObject.get(rec.objectId)
    const restore = (): void => { this.#set(rec.objectId, prev) }
    const v = rec.value
    if (rec.type !== KEY_ENVELOPE_TYPE || rec.deleted || v === undefined) return () => {}
    const tag = v.tag
    const version = v.version
    if (typeof tag !== 'string' || typeof version !== 'number' || typeof v.names !== 'string') return () => {}
    let key: ContentKey | undefined
    for (const o of this.#openers) {
      try {
        key = openKeyEnvelope(v.envelope, o)
        break
      } catch { /* not a recipient with this key */ }
    }
    if (key === undefined) return () => {}
    let names: { context?: unknown, type?: unknown }
    try {
      names = JSON.parse(utf8d.decode(decryptPayload(key, v.names, namesAad(tag, version)))) as typeof names
    } catch {
      return () => {}
    }
    if (typeof names.context !== 'string' || typeof names.type !== 'string') return () => {}
    this.#set(rec.objectId, { key, tag, version, context: names.context, type: names.type, objectId: rec.objectId })
    return restore
  }
}
