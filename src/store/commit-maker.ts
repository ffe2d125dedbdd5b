/**
 * Commits this hub makes for the owner: their header (strictly increasing
 * `committed_at` from this hub's clock, the object's heads as deps), the
 * payload sealed under the collection's newest key when it is encrypted, and
 * the reverse — a commit's payload in clear where this hub holds the key.
 */
import { ConflictError } from '../errors.js'
import type { Did } from '../ids.js'
import type { Commit, UnsignedHeader, VerifiedCommit } from '../commits/commit.js'
import { collectionFields, signSealed } from '../encryption/commit-seal.js'
import { commitHeaderAad } from '../encryption/jwe.js'
import type { CollectionKey, Keyring } from '../encryption/keyring.js'
import { utf8d } from '../identity/encoding.js'
import type { Signer } from '../identity/keys.js'
import type { ObjectMeta } from './object-meta.js'

export class CommitMaker {
  readonly #tenant: Did
  readonly #keyring: Keyring
  #lastAt = 0

  constructor (init: { tenant: Did, keyring: Keyring }) {
    this.#tenant = init.tenant
    this.#keyring = init.keyring
  }

  /** A committed_at for a commit made here: this hub's clock, strictly increasing. */
  now (): string {
    const t = Math.max(Date.now(), this.#lastAt + 1)
    this.#lastAt = t
    return new Date(t).toISOString()
  }

  sign (meta: ObjectMeta, operation: 'update' | 'delete', payload: Uint8Array, signer: Signer): VerifiedCommit {
    // An encrypted object's commits use its collection's newest key (rotation applies to new commits).
    const key = meta.tag === undefined ? undefined : this.#keyring.current(meta.tag)
    if (meta.tag !== undefined && key === undefined) throw new ConflictError('this hub holds no key for the object\'s collection')
    const fields: UnsignedHeader = {
      interface: meta.interface,
      ...collectionFields(meta.context, meta.type, key?.key),
      operation,
      committed_at: this.now(),
      commit_strategy: meta.strategy,
      sub: this.#tenant,
      object_id: meta.objectId,
      deps: [...meta.heads].sort()
    }
    return this.signSealed(fields, payload, signer, operation === 'delete' ? undefined : key)
  }

  /** Sign a commit, sealing the payload first when a key is given (deletes carry none). */
  signSealed (fields: UnsignedHeader, plain: Uint8Array, signer: Signer, key: CollectionKey | undefined): VerifiedCommit {
    return signSealed(fields, plain, signer, key?.key)
  }

  /**
   * The commit with its payload in clear: itself when not encrypted, the
   * decrypted copy when this hub holds the key, undefined when it cannot
   * read it. Decryption also proves the payload belongs to this header.
   */
  plaintext<C extends Commit> (commit: C): C | undefined {
    const kid = commit.header.enc
    if (kid === undefined || commit.header.operation === 'delete') return commit
    // Opened with whichever key of that id sealed it (two devices apart may have minted one each: keyring.ts).
    const payload = this.#keyring.open(kid, utf8d.decode(commit.payload), commitHeaderAad(commit.header))
    return payload === undefined ? undefined : { ...commit, payload }
  }
}
