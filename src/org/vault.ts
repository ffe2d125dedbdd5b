/**
 * Private keys of participant key pairs, sealed at rest. They live in the
 * same LevelDB as the records that reference them, so creating, rotating,
 * revoking and deleting are single atomic batches: a key is never orphaned
 * and never outlives its record (EDC keeps keys in a separate vault and
 * cleans up after its transaction, which can fail half-way).
 *
 * Sealing: AES-256-GCM under a key derived from this hub's own key
 * (keys/hub.json, 0600), with the owning record's name as additional data so
 * a sealed key cannot be moved to another record. A copy of the store alone
 * does not reveal private keys.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { HubError } from '../errors.js'
import { utf8, utf8d } from '../identity/encoding.js'

const INFO = 'identity-hub org vault v1'
const IV_BYTES = 12
const TAG_BYTES = 16
const VERSION = 1

export class Vault {
  readonly #key: Buffer

  constructor (rootSecret: Uint8Array) {
    if (rootSecret.length < 32) throw new TypeError('the vault needs a 32-byte root secret')
    this.#key = Buffer.from(hkdfSync('sha256', rootSecret, new Uint8Array(0), INFO, 32))
  }

  /** Seal a 32-byte Ed25519 seed for the record named `aad`. */
  seal (seed: Uint8Array, aad: string): Uint8Array {
    const iv = randomBytes(IV_BYTES)
    const c = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES })
    c.setAAD(utf8.encode(aad))
    const ct = Buffer.concat([c.update(seed), c.final()])
    return utf8.encode(JSON.stringify({ v: VERSION, iv: iv.toString('base64url'), ct: ct.toString('base64url'), tag: c.getAuthTag().toString('base64url') }))
  }

  open (sealed: Uint8Array, aad: string): Uint8Array {
    try {
      const box = JSON.parse(utf8d.decode(sealed)) as { v: number, iv: string, ct: string, tag: string }
      if (box.v !== VERSION) throw new Error(`unknown vault version ${String(box.v)}`)
      const d = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(box.iv, 'base64url'), { authTagLength: TAG_BYTES })
      d.setAAD(utf8.encode(aad))
      d.setAuthTag(Buffer.from(box.tag, 'base64url'))
      return new Uint8Array(Buffer.concat([d.update(Buffer.from(box.ct, 'base64url')), d.final()]))
    } catch (err) {
      // Never say more: the message could otherwise hint at key material.
      throw new HubError('internal', 'a sealed private key could not be opened (was the store copied from another hub?)', undefined, { cause: err })
    }
  }
}
