/**
 * Step 3 of a check: every derived key of the hub's store (`o!`, `oc!`,
 * `i!`, `x!`, `p!`, `s!`, `n!`) against the rebuilt store, as a streaming
 * merge of two ordered scans, collecting the writes that would make the
 * hub's store match (`n!` only gains: see below). Never a fix for an
 * object touched by a signed-data problem, and never one that drops a value
 * the hub can read but the rebuild cannot (`unreadableByRebuild`).
 */
import { asObjectId } from '../../ids.js'
import { parseCommit } from '../../commits/commit.js'
import { utf8d } from '../../identity/encoding.js'
import { deepEqual, type JsonValue } from '../../objects/json.js'
import { prefixEnd, type KvOp, type KvStore } from '../kv.js'
import type { Layout } from '../layout.js'
import { indexKeys, type ObjectMeta, type TenantStore } from '../tenant-store.js'
import { merge, sameBytes } from './merge.js'
import { snapshotProblem } from './snapshot.js'
import type { AddProblem, ProblemCode } from './types.js'

export interface DerivedComparison {
  /** Objects in the rebuilt store. */
  objects: number
  /** Derived-data fixes for objects neither tainted nor kept. */
  ops: KvOp[]
  /** Objects whose meta and snapshot are rewritten together. */
  pair: Set<string>
  /** Objects whose stored value the rebuild could not decrypt (kept as stored). */
  unreadable: number
  /** A Permissions list entry differs. */
  permissionsTouched: boolean
}

/**
 * Compare the derived data of the hub's store (`kv`) with the rebuild
 * (`rebuilt` over `scratch`). `bad` are the stored commits the replay could
 * not use; an object whose log names one is added to `tainted`.
 */
export async function compareDerived (kv: KvStore, scratch: KvStore, L: Layout, rebuilt: TenantStore, bad: ReadonlySet<string>, tainted: Set<string>, add: AddProblem): Promise<DerivedComparison> {
  const fixes: Array<{ objectId: string, op: KvOp }> = []
  const pair = new Set<string>() // objects whose meta + snapshot are rewritten together
  const put = (objectId: string, key: string, value: Uint8Array | undefined): void => {
    fixes.push({ objectId, op: value === undefined ? { type: 'del', key } : { type: 'put', key, value } })
  }
  const snapshotCommits = new Map<string, number>()
  /**
   * Objects whose stored value the rebuild could not decrypt (see
   * `unreadableByRebuild`): their stored value stands, and the index keys it
   * implies are what their indexes are checked against.
   */
  const unreadable = new Map<string, Set<string>>()
  /** The `n!` pairs the stored names of `unreadable` objects occupy. */
  const unreadablePairs = new Set<string>()
  /** Objects whose derived data is reported but not repaired (beyond the tainted ones). */
  const kept = new Set<string>()
  let objects = 0

  // Object metas (ignoring snapshotCommits, which depends on where snapshots were taken).
  for await (const [key, real, want] of merge(kv, scratch, `${L.p}o!`)) {
    const objectId = key.slice(`${L.p}o!`.length)
    if (want !== undefined) objects++
    let realMeta: ObjectMeta | undefined
    if (real !== undefined) {
      try {
        realMeta = JSON.parse(utf8d.decode(real)) as ObjectMeta
        if (typeof realMeta.snapshotCommits === 'number') snapshotCommits.set(objectId, realMeta.snapshotCommits)
      } catch { /* reported below as a mismatch */ }
    }
    if (want === undefined) {
      add({ code: 'extra_meta', key, objectId, detail: 'an object meta with no commits behind it in the feed' })
      pair.add(objectId)
    } else if (real === undefined) {
      add({ code: 'missing_meta', key, objectId, detail: 'the object has commits but no meta' })
      pair.add(objectId)
    } else {
      const wantMeta = JSON.parse(utf8d.decode(want)) as ObjectMeta
      if (realMeta !== undefined && await unreadableByRebuild(realMeta, wantMeta, rebuilt, scratch, L)) {
        // Never repaired into the rebuild's blind view: only what needs no key is compared.
        const readable = withReadable(wantMeta, realMeta)
        unreadable.set(objectId, new Set(indexKeys(L, readable)))
        if (!readable.deleted && readable.context !== undefined && readable.type !== undefined) unreadablePairs.add(L.pair(readable.interface, readable.context, readable.type))
        const diff = metaDiff(realMeta, wantMeta, DECRYPTED_FIELDS)
        if (diff.length > 0) {
          add({ code: 'meta_mismatch', key, objectId, detail: `differs from the rebuilt meta in: ${diff.join(', ')} (not repaired: the rebuild cannot decrypt its value)` })
          kept.add(objectId)
        }
        continue
      }
      const diff = realMeta === undefined ? ['(not JSON)'] : metaDiff(realMeta, wantMeta)
      if (diff.length > 0) {
        add({ code: 'meta_mismatch', key, objectId, detail: `differs from the rebuilt meta in: ${diff.join(', ')}` })
        pair.add(objectId)
      }
    }
  }

  // Per-object logs: `oc!<object>!<n>` numbers an object's commits 1, 2, …
  // in feed order, so the rebuilt keys match exactly (feed gaps do not matter).
  for await (const [key, real, want] of merge(kv, scratch, `${L.p}oc!`)) {
    const rest = key.slice(`${L.p}oc!`.length)
    const objectId = rest.slice(0, rest.indexOf('!'))
    if (real !== undefined && bad.has(utf8d.decode(real))) tainted.add(objectId)
    if (real !== undefined && want !== undefined && Buffer.compare(real, want) === 0) continue
    if (want === undefined) add({ code: 'extra_object_log_entry', key, objectId, detail: `the log lists commit ${utf8d.decode(real as Uint8Array)}, which the replay did not put there` })
    else if (real === undefined) add({ code: 'missing_object_log_entry', key, objectId, commitId: utf8d.decode(want), detail: `the log lacks commit ${utf8d.decode(want)}` })
    else add({ code: 'object_log_mismatch', key, objectId, commitId: utf8d.decode(want), detail: `the log lists ${utf8d.decode(real)} where the replay puts ${utf8d.decode(want)}` })
    put(objectId, key, want)
  }

  // Indexes and the Permissions list: key sets (values are empty).
  const sets: Array<{ prefix: string, missing: ProblemCode, extra: ProblemCode, id: (rest: string) => string }> = [
    { prefix: `${L.p}i!`, missing: 'missing_index', extra: 'extra_index', id: rest => rest.slice(rest.lastIndexOf('!') + 1) },
    { prefix: `${L.p}x!`, missing: 'missing_index', extra: 'extra_index', id: rest => rest.slice(rest.lastIndexOf('!') + 1) },
    { prefix: L.permissionsPrefix(), missing: 'missing_permission_entry', extra: 'extra_permission_entry', id: rest => rest }
  ]
  let permissionsTouched = false
  /** Index keys of `unreadable` objects that the real store holds. */
  const present = new Set<string>()
  for (const s of sets) {
    for await (const [key, real, want] of merge(kv, scratch, s.prefix)) {
      const objectId = s.id(key.slice(s.prefix.length))
      const expected = s.prefix === L.permissionsPrefix() ? undefined : unreadable.get(objectId)
      if (expected !== undefined) {
        // Checked against the stored value, not the rebuild's blind view (missing ones: below).
        if (real === undefined) continue
        if (expected.has(key)) {
          present.add(key)
          continue
        }
        add({ code: 'extra_index', key, objectId, detail: 'not derived from the object\'s stored value' })
        put(objectId, key, undefined)
        continue
      }
      if (real !== undefined && want !== undefined && Buffer.compare(real, want) === 0) continue
      if (want === undefined) add({ code: s.extra, key, objectId, detail: 'not derived from any commit' })
      else if (real === undefined) add({ code: s.missing, key, objectId, detail: 'derived from the commits but absent' })
      else add({ code: s.extra, key, objectId, detail: 'unexpected value' })
      if (s.prefix === L.permissionsPrefix()) permissionsTouched = true
      put(objectId, key, want)
    }
  }
  for (const [objectId, expected] of unreadable) {
    for (const key of expected) {
      if (present.has(key)) continue
      add({ code: 'missing_index', key, objectId, detail: 'derived from the object\'s stored value but absent' })
      put(objectId, key, new Uint8Array(0))
    }
  }

  // The pairs list (`n!`): every pair the rebuild (or an unreadable
  // object's stored names) occupies must be listed, or queries by context or
  // by type miss its objects. An extra pair is harmless (such a query seeks
  // one empty range) and normal (the list never shrinks when objects are
  // deleted), so it is neither reported nor removed.
  const nPrefix = L.pairsPrefix()
  const listed = new Set<string>()
  for await (const k of kv.keys({ gte: nPrefix, lt: prefixEnd(nPrefix) })) listed.add(k)
  const wantPairs = new Set(unreadablePairs)
  for await (const k of scratch.keys({ gte: nPrefix, lt: prefixEnd(nPrefix) })) wantPairs.add(k)
  for (const key of wantPairs) {
    if (listed.has(key)) continue
    add({ code: 'missing_index', key, detail: 'a (context, type) pair objects occupy is not in the pairs list' })
    put('', key, new Uint8Array(0))
  }

  // Snapshots: caches, validated rather than compared.
  const sPrefix = L.snapshotsPrefix()
  for await (const [key, snap] of kv.entries({ gte: sPrefix, lt: prefixEnd(sPrefix) })) {
    const objectId = key.slice(sPrefix.length)
    // Validating it takes the content key, which the rebuild lacks: the cache stays as it is.
    if (unreadable.has(objectId)) continue
    const n = snapshotCommits.get(objectId)
    if (n === undefined) {
      add({ code: 'orphan_snapshot', key, objectId, detail: 'no object meta refers to this snapshot' })
      pair.add(objectId)
      continue
    }
    const why = await snapshotProblem(rebuilt, scratch, L, asObjectId(objectId), snap, n)
    if (why !== undefined) {
      add({ code: 'bad_snapshot', key, objectId, detail: why })
      pair.add(objectId)
    }
  }
  for (const objectId of pair) {
    const oKey = L.object(asObjectId(objectId))
    const sKey = L.snapshot(asObjectId(objectId))
    const [m, s] = await scratch.getMany([oKey, sKey])
    const [rm, rs] = await kv.getMany([oKey, sKey])
    // The same rule as for metas above: never a blind rebuilt meta over a readable stored one.
    const realMeta = rm === undefined ? undefined : parseMeta(rm)
    if (realMeta !== undefined && m !== undefined && await unreadableByRebuild(realMeta, parseMeta(m) as ObjectMeta, rebuilt, scratch, L)) {
      kept.add(objectId)
      continue
    }
    if (!sameBytes(rm, m)) put(objectId, oKey, m)
    if (!sameBytes(rs, s)) put(objectId, sKey, s)
  }

  const ops = fixes.filter(f => !tainted.has(f.objectId) && !kept.has(f.objectId)).map(f => f.op)
  return { objects, ops, pair, unreadable: unreadable.size, permissionsTouched }
}

/** Meta fields that only a hub holding the collection's content key can compute. */
const DECRYPTED_FIELDS = ['context', 'type', 'value']

/**
 * The rule that keeps a repair from destroying data: repair may add or fix
 * derived data, but never drop a value the hub can read. When the stored
 * meta holds a value and the rebuilt one has none because a commit of the
 * object is sealed under a content key the rebuild does not hold (its key
 * envelope failed to replay, say), the rebuild is blind where the hub is
 * not: that is not a problem to repair, and the stored value stands.
 */
async function unreadableByRebuild (real: ObjectMeta, want: ObjectMeta, rebuilt: TenantStore, scratch: KvStore, L: Layout): Promise<boolean> {
  if (real.value === undefined || want.value !== undefined || want.deleted) return false
  const ids = await rebuilt.objectCommitIds(want.objectId)
  for (const env of await scratch.getMany(ids.map(id => L.commit(id)))) {
    if (env === undefined) continue
    const h = parseCommit(utf8d.decode(env), Infinity).header
    if (h.enc !== undefined && h.operation !== 'delete' && rebuilt.keyring.get(h.enc) === undefined) return true
  }
  return false
}

function parseMeta (raw: Uint8Array): ObjectMeta | undefined {
  try {
    return JSON.parse(utf8d.decode(raw)) as ObjectMeta
  } catch {
    return undefined
  }
}

/** The rebuilt meta with the names and value only the stored one could read. */
function withReadable (want: ObjectMeta, real: ObjectMeta): ObjectMeta {
  const out: ObjectMeta = { ...want }
  for (const f of DECRYPTED_FIELDS as Array<'context' | 'type' | 'value'>) {
    if (real[f] === undefined) delete out[f]
    else (out as unknown as Record<string, unknown>)[f] = real[f]
  }
  return out
}

/** Top-level fields in which two metas differ (snapshotCommits and `ignore` ignored; JSON key order ignored). */
function metaDiff (real: ObjectMeta, want: ObjectMeta, ignore: string[] = []): string[] {
  const a = real as unknown as Record<string, JsonValue>
  const b = want as unknown as Record<string, JsonValue>
  const fields = new Set([...Object.keys(a), ...Object.keys(b)])
  fields.delete('snapshotCommits')
  for (const f of ignore) fields.delete(f)
  const out: string[] = []
  for (const f of fields) {
    const x = a[f]
    const y = b[f]
    if (x === undefined && y === undefined) continue
    if (x === undefined || y === undefined || !deepEqual(x, y)) out.push(f)
  }
  return out.sort()
}
