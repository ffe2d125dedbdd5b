/**
 * A tenant's content keys as this hub can use them: every key envelope
 * (a `Keys` object) this hub is a recipient of, opened with its own
 * key-agreement key (and the owner's, when it holds it). Like the grant
 * registry, it is updated inside the write queue as Keys objects apply, so
 * an encrypted commit later in the same batch already finds its key. A
 * blind hub opens nothing: its keyring stays empty and it stores ciphertext.
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

export class Keyring {
  readonly #openers: readonly EnvelopeOpener[]
  readonly #byKid = new Map<string, CollectionKey>()
  readonly #byObject = new Map<string, string>()

  constructor (openers: readonly EnvelopeOpener[]) {
    this.#openers = openers
  }

  get (kid: string): CollectionKey | undefined { return this.#byKid.get(kid) }

  /** The newest key of a collection, by tag. */
  current (tag: string): CollectionKey | undefined {
    let best: CollectionKey | undefined
    for (const k of this.#byKid.values()) if (k.tag === tag && (best === undefined || k.version > best.version)) best = k
    return best
  }

  /** The newest key of a collection, by its names (only hubs holding a key know them). */
  currentByNames (context: string, type: string): CollectionKey | undefined {
    let best: CollectionKey | undefined
    for (const k of this.#byKid.values()) if (k.context === context && k.type === type && (best === undefined || k.version > best.version)) best = k
    return best
  }

  all (): CollectionKey[] { return [...this.#byKid.values()] }

  /** Apply the new state of a Keys object; returns an undo. Envelopes we cannot open are ignored. */
  apply (rec: KeysRecord): () => void {
    const prevKid = this.#byObject.get(rec.objectId)
    const prev = prevKid === undefined ? undefined : this.#byKid.get(prevKid)
    const restore = (): void => {
      const now = this.#byObject.get(rec.objectId)
      if (now !== undefined) this.#byKid.delete(now)
      this.#byObject.delete(rec.objectId)
      if (prev !== undefined && prevKid !== undefined) { this.#byKid.set(prevKid, prev); this.#byObject.set(rec.objectId, prevKid) }
    }
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
    const entry: CollectionKey = { key, tag, version, context: names.context, type: names.type, objectId: rec.objectId }
    this.#byKid.set(key.kid, entry)
    this.#byObject.set(rec.objectId, key.kid)
    return restore
  }
}
