/**
 * Step 1 of a check: the signed data. Every stored commit (`c!`) must parse,
 * be stored under its own id (a hash of header + payload, so this proves the
 * content is intact) and carry a signature that verifies. Nothing here is
 * ever repaired: what this finds is reported, and replay.ts leaves the
 * commits it cannot trust out of the rebuild.
 */
import { HubError } from '../../errors.js'
import { parseCommit, verifyCommit, type Commit, type KeyLookup } from '../../commits/commit.js'
import { utf8d } from '../../identity/encoding.js'
import { prefixEnd, type KvStore } from '../kv.js'
import type { Layout } from '../layout.js'
import type { AddProblem } from './types.js'

/** What the scan of stored commits found; replay.ts counts feed references into `refs`. */
export interface SignedScan {
  /** Stored commits (`c!`). */
  commits: number
  /** Feed references per stored commit (all 0 after the scan). */
  refs: Map<string, number>
  /** Stored commits whose content cannot be trusted (not replayed); value: their object, if known. */
  untrusted: Map<string, string | undefined>
  /** Stored commits whose content is intact (id = hash) but whose signature does not verify now (replayed all the same). */
  signatureOnly: Set<string>
}

/** Parse, id and signature of every stored commit of the tenant under `L`. */
export async function scanCommits (kv: KvStore, L: Layout, resolveKey: KeyLookup, add: AddProblem): Promise<SignedScan> {
  const refs = new Map<string, number>()
  const untrusted = new Map<string, string | undefined>()
  const signatureOnly = new Set<string>()
  const cPrefix = `${L.p}c!`
  let commits = 0
  for await (const [k, v] of kv.entries({ gte: cPrefix, lt: prefixEnd(cPrefix) })) {
    commits++
    const id = k.slice(cPrefix.length)
    refs.set(id, 0)
    let c: Commit
    try {
      c = parseCommit(utf8d.decode(v), Infinity)
    } catch (err) {
      untrusted.set(id, undefined)
      add({ code: 'unparseable_commit', key: k, commitId: id, detail: (err as Error).message })
      continue
    }
    if (c.id !== id) {
      untrusted.set(id, c.objectId)
      add({ code: 'id_mismatch', key: k, commitId: id, objectId: c.objectId, detail: `stored under ${id} but its content hashes to ${c.id}` })
      continue
    }
    try {
      await verifyCommit(c, resolveKey)
    } catch (err) {
      // The id proves header and payload are what was ingested, so the commit
      // is still replayed; only its signature bytes are damaged (or its key
      // cannot be resolved now).
      const bad = err instanceof HubError && err.code === 'authentication_failed'
      signatureOnly.add(id)
      add({ code: bad ? 'bad_signature' : 'unverifiable_signature', key: k, commitId: id, objectId: c.objectId, detail: (err as Error).message })
    }
  }
  return { commits, refs, untrusted, signatureOnly }
}

/** The object a stored commit belongs to, if it parses. */
export async function objectOf (kv: KvStore, L: Layout, id: string): Promise<string | undefined> {
  const raw = await kv.get(L.commit(id as Commit['id']))
  if (raw === undefined) return undefined
  try {
    return parseCommit(utf8d.decode(raw), Infinity).objectId
  } catch {
    return undefined
  }
}
