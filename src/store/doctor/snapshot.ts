/**
 * Snapshot validation. Snapshots (`s!`) are caches, so they are validated
 * rather than compared with the rebuild's (which took its snapshots at
 * other points): one must load and hold exactly the Automerge changes of the
 * commits its meta says it covers.
 */
import * as A from '../../objects/automerge-load.js'
import type { ObjectId } from '../../ids.js'
import { parseCommit } from '../../commits/commit.js'
import { commitHeaderAad } from '../../encryption/jwe.js'
import { utf8d } from '../../identity/encoding.js'
import { docHeads, freeDoc, loadDoc } from '../../objects/automerge.js'
import type { KvStore } from '../kv.js'
import type { Layout } from '../layout.js'
import type { TenantStore } from '../tenant-store.js'

/**
 * Why a snapshot cannot stand in for the first `n` commits of its object, or
 * undefined if it can: it must load, and its Automerge heads must be the
 * heads of exactly those commits' changes (heads determine the whole set).
 */
export async function snapshotProblem (rebuilt: TenantStore, scratch: KvStore, L: Layout, objectId: ObjectId, snap: Uint8Array, n: number): Promise<string | undefined> {
  const ids = await rebuilt.objectCommitIds(objectId)
  if (ids.length === 0) return 'the object has no commits in the replay'
  if (!Number.isInteger(n) || n < 1 || n > ids.length) return `the meta says it covers ${n} commits; the object has ${ids.length}`
  const envs = await scratch.getMany(ids.slice(0, n).map(id => L.commit(id)))
  const hashes = new Set<string>()
  const deps = new Set<string>()
  for (const env of envs) {
    if (env === undefined) return 'a covered commit is missing from the replay'
    const c = parseCommit(utf8d.decode(env), Infinity)
    if (c.header.operation === 'delete') continue
    let payload = c.payload
    if (c.header.enc !== undefined) {
      // Sealed: its Automerge change is the decrypted payload (the rebuild holds the hub's keys).
      try {
        const plain = rebuilt.keyring.open(c.header.enc, utf8d.decode(c.payload), commitHeaderAad(c.header))
        if (plain === undefined) return 'a covered commit is sealed under a content key this hub does not hold'
        payload = plain
      } catch (err) {
        return `a covered commit does not decrypt: ${(err as Error).message}`
      }
    }
    const ch = A.decodeChange(payload)
    hashes.add(ch.hash)
    for (const d of ch.deps) deps.add(d)
  }
  const expected = [...hashes].filter(h => !deps.has(h)).sort()
  let heads: string[]
  try {
    const doc = loadDoc(snap, '00'.repeat(16))
    heads = [...docHeads(doc)].sort()
    freeDoc(doc)
  } catch (err) {
    return `does not load: ${(err as Error).message}`
  }
  if (heads.length !== expected.length || heads.some((h, i) => h !== expected[i])) {
    return `its Automerge heads are not those of the first ${n} commits`
  }
  return undefined
}
