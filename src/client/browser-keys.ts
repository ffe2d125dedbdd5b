/**
 * App keys in a browser: a key store on IndexedDB.
 *
 * WebCrypto can hold an Ed25519 key as a non-extractable CryptoKey, but its
 * `sign()` is asynchronous and our `Signer.sign` is not (commits and request
 * tokens are built synchronously, on both platforms). So the Ed25519 seed is
 * kept encrypted (AES-256-GCM) under a *non-extractable* AES key that exists
 * only as a CryptoKey in IndexedDB, next to the ciphertext; `load()`
 * decrypts the seed into memory for the life of the page.
 *
 * What that buys: the stored record never holds the seed in the clear, so a
 * copy of the profile's IndexedDB files, a backup of them, or a script that
 * dumps the database's records (structured clones of a non-extractable
 * CryptoKey cannot be exported) does not yield the key. What it does not:
 * code running in the app's origin (an XSS, a compromised dependency) can
 * call `load()` and sign, or read the seed from the page's memory once
 * loaded; and the browser itself (or malware with the user's privileges) can
 * read both the AES key and the ciphertext. Same-origin isolation is the
 * boundary, as for any web secret. `export()` hands out the seed as a
 * private JWK, for the user's backup.
 *
 * Records: database `name` (default `identity-hub-keys`), object store
 * `keys`, keyed by label: `{ label, did, wrap: CryptoKey, iv, sealed,
 * createdAt }`. The GCM additional data binds the ciphertext to the label
 * and the DID, and a decrypted seed must yield that DID.
 */
import { AlreadyExistsError, BadRequestError, InternalError, NotFoundError, UnsupportedError } from '../errors.js'
import type { Did } from '../ids.js'
import { Ed25519KeyPair } from '../identity/keys.js'
import { b64u, fromB64u } from '../identity/encoding.js'

export const DEFAULT_KEY_STORE_NAME = 'identity-hub-keys'
/** Longest label accepted (UTF-16 code units). */
export const MAX_KEY_LABEL_LENGTH = 200
const STORE = 'keys'
const DB_VERSION = 1
const B64U = /^[A-Za-z0-9_-]+$/

/** A stored key without its secret. */
export interface BrowserKeyInfo {
  label: string
  did: Did
  createdAt: string
}

/** The backup form of a key: an OKP/Ed25519 private JWK (RFC 8037). */
export interface BrowserKeyBackup {
  kty: 'OKP'
  crv: 'Ed25519'
  x: string
  d: string
}

interface KeyRecord extends BrowserKeyInfo {
  wrap: CryptoKey
  iv: Uint8Array
  sealed: Uint8Array
}

function requestResult<T> (req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => { resolve(req.result) }
    req.onerror = () => { reject(req.error ?? new Error('IndexedDB request failed')) }
  })
}

function checkLabel (label: unknown): string {
  if (typeof label !== 'string' || label.length === 0 || label.length > MAX_KEY_LABEL_LENGTH) {
    throw new BadRequestError(`a key label is a non-empty string of at most ${MAX_KEY_LABEL_LENGTH} characters`, { reason: 'bad_label' })
  }
  return label
}

function aad (label: string, did: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`identity-hub/browser-key/v1\n${label}\n${did}`)
}

function isRecord (v: unknown): v is KeyRecord {
  if (typeof v !== 'object' || v === null) return false
  const r = v as Record<string, unknown>
  return typeof r.label === 'string' && typeof r.did === 'string' && typeof r.createdAt === 'string' &&
    r.iv instanceof Uint8Array && r.sealed instanceof Uint8Array && typeof CryptoKey !== 'undefined' && r.wrap instanceof CryptoKey
}

/** Check a backup's shape before any crypto: every refusal is `bad_request` with a `details.reason`. */
function parseBackup (backup: unknown): Uint8Array {
  if (typeof backup !== 'object' || backup === null) throw new BadRequestError('a key backup is an OKP Ed25519 private JWK', { reason: 'not_a_jwk' })
  const b = backup as Record<string, unknown>
  if (b.kty !== 'OKP' || b.crv !== 'Ed25519') throw new BadRequestError('a key backup is an OKP Ed25519 private JWK', { reason: 'wrong_key_type' })
  if (typeof b.d !== 'string') throw new BadRequestError('the backup has no private key (d)', { reason: 'missing_private_key' })
  const seed = B64U.test(b.d) ? fromB64u(b.d) : new Uint8Array(0)
  if (seed.length !== 32 || b64u(seed) !== b.d) throw new BadRequestError('the backup\'s private key is not 32 bytes of base64url', { reason: 'bad_private_key' })
  if (b.x !== undefined) {
    if (typeof b.x !== 'string' || b.x !== b64u(Ed25519KeyPair.fromSeed(seed).publicKey)) {
      throw new BadRequestError('the backup\'s public key (x) does not belong to its private key', { reason: 'key_mismatch' })
    }
  }
  return seed
}

export class BrowserKeyStore {
  readonly name: string
  readonly #db: IDBDatabase

  private constructor (name: string, db: IDBDatabase) {
    this.name = name
    this.#db = db
  }

  /** Open (creating on first use) the key store `name` of this origin. `unsupported` where there is no IndexedDB or WebCrypto. */
  static async open (name: string = DEFAULT_KEY_STORE_NAME): Promise<BrowserKeyStore> {
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_KEY_LABEL_LENGTH) throw new BadRequestError('a key store name is a non-empty string', { reason: 'bad_name' })
    if (typeof indexedDB === 'undefined' || globalThis.crypto?.subtle === undefined) {
      throw new UnsupportedError('BrowserKeyStore needs IndexedDB and WebCrypto (a browser page in a secure context); under Node use key files')
    }
    const req = indexedDB.open(name, DB_VERSION)
    req.onupgradeneeded = () => { req.result.createObjectStore(STORE, { keyPath: 'label' }) }
    const db = await requestResult(req)
    return new BrowserKeyStore(name, db)
  }

  /** The stored keys (labels, DIDs), never their secrets. */
  async list (): Promise<BrowserKeyInfo[]> {
    const all = await requestResult(this.#db.transaction(STORE, 'readonly').objectStore(STORE).getAll())
    return all.filter(isRecord).map(r => ({ label: r.label, did: r.did, createdAt: r.createdAt }))
  }

  /** The key under `label`; `not_found` when there is none. */
  async load (label: string): Promise<Ed25519KeyPair> {
    const record = await this.#get(checkLabel(label))
    if (record === undefined) throw new NotFoundError(`no key "${label}" in the key store ${this.name}`)
    return await this.#open(record)
  }

  /** Make a new key under `label`; `already_exists` when the label is taken. */
  async create (label: string): Promise<Ed25519KeyPair> {
    checkLabel(label)
    const key = Ed25519KeyPair.generate()
    await this.#put(label, key.exportSeed(), key.did)
    return key
  }

  /** The key under `label`, made on first use. Safe when two tabs race: both get the same key. */
  async getOrCreate (label: string): Promise<Ed25519KeyPair> {
    checkLabel(label)
    const existing = await this.#get(label)
    if (existing !== undefined) return await this.#open(existing)
    try {
      return await this.create(label)
    } catch (err) {
      if (err instanceof AlreadyExistsError) return await this.load(label)
      throw err
    }
  }

  /** The key as a private JWK, for the user's backup. `not_found` when there is none. */
  async export (label: string): Promise<BrowserKeyBackup> {
    return (await this.load(label)).privateJwk()
  }

  /** Store a backup (from `export()`, or any OKP Ed25519 private JWK) under `label`. Refuses a malformed one with `bad_request`, a taken label with `already_exists`. */
  async import (label: string, backup: unknown): Promise<Ed25519KeyPair> {
    checkLabel(label)
    const key = Ed25519KeyPair.fromSeed(parseBackup(backup))
    await this.#put(label, key.exportSeed(), key.did)
    return key
  }

  /** Forget the key under `label` (its AES key goes with it). `not_found` when there is none. */
  async delete (label: string): Promise<void> {
    checkLabel(label)
    const tx = this.#db.transaction(STORE, 'readwrite')
    const store = tx.objectStore(STORE)
    const found = await requestResult(store.count(label))
    if (found === 0) throw new NotFoundError(`no key "${label}" in the key store ${this.name}`)
    await requestResult(store.delete(label))
  }

  close (): void { this.#db.close() }

  async #get (label: string): Promise<KeyRecord | undefined> {
    const v: unknown = await requestResult(this.#db.transaction(STORE, 'readonly').objectStore(STORE).get(label))
    if (v === undefined) return undefined
    if (!isRecord(v)) throw new InternalError(`the key store ${this.name} holds a malformed record for "${label}"`)
    return v
  }

  async #put (label: string, seed: Uint8Array, did: Did): Promise<void> {
    // WebCrypto first: an IndexedDB transaction commits as soon as it waits on anything else.
    const wrap = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    const iv = crypto.getRandomValues(new Uint8Array(12))
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad(label, did) }, wrap, Uint8Array.from(seed)))
    const record: KeyRecord = { label, did, createdAt: new Date().toISOString(), wrap, iv, sealed }
    try {
      await requestResult(this.#db.transaction(STORE, 'readwrite').objectStore(STORE).add(record))
    } catch (err) {
      if ((err as DOMException).name === 'ConstraintError') throw new AlreadyExistsError(`the key store ${this.name} already has a key "${label}"`)
      throw err
    }
  }

  async #open (r: KeyRecord): Promise<Ed25519KeyPair> {
    let seed: Uint8Array
    try {
      seed = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: Uint8Array.from(r.iv), additionalData: aad(r.label, r.did) }, r.wrap, Uint8Array.from(r.sealed)))
    } catch (err) {
      throw new InternalError(`the key "${r.label}" in ${this.name} does not decrypt`, undefined, { cause: err })
    }
    const key = Ed25519KeyPair.fromSeed(seed)
    seed.fill(0)
    if (key.did !== r.did) throw new InternalError(`the key "${r.label}" in ${this.name} does not match its DID`)
    return key
  }
}
