/**
 * Automerge strategy. One string rule on every write path (create,
 * `update`, `change`, here and in the client SDK): a string the hub writes
 * is an Automerge `ImmutableString` scalar, never collaborative Text. JSON
 * fields are replaced whole, not edited character by character (two
 * devices renaming a playlist at once keep one name, not an interleaving of
 * both), and scalar strings make document creation ~3× faster than Text
 * (measured: 1.8k vs 0.6k playlist docs/s). Maps and lists still merge
 * concurrent edits field by field and element by element. A draft function
 * edits a plain JSON copy of the value and the hub records the minimal
 * edit, as for a whole value (`changeDoc`, live-doc.ts `change`). Text (or
 * any other type) written by another Automerge writer reads as JSON and is
 * replaced by a scalar on its next edit. docs/architecture.md says what a
 * stock Automerge user sees.
 */
import * as A from './automerge-load.js'
import { BadRequestError } from '../errors.js'
import { b64 } from '../identity/encoding.js'
import { encodeCreateChange } from './create-change.js'
import { checkJsonObject, deepEqual, isJsonObject, type JsonObject, type JsonValue } from './json.js'

export type AmDoc = A.Doc<Record<string, unknown>>

type AmValue = string | number | boolean | null | A.ImmutableString | AmValue[] | { [k: string]: AmValue }

/** JSON → the form Automerge stores (strings become ImmutableString). */
export function toAm (v: JsonValue): AmValue {
  if (typeof v === 'string') return new A.ImmutableString(v)
  if (Array.isArray(v)) return v.map(toAm)
  if (v !== null && typeof v === 'object') {
    const out: { [k: string]: AmValue } = {}
    for (const [k, x] of Object.entries(v)) out[k] = toAm(x)
    return out
  }
  return v
}

/** Automerge document value → plain JSON. */
export function fromAm (v: unknown): JsonValue {
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v
  if (typeof v === 'string') return v
  if (A.isImmutableString(v)) return v.val
  if (Array.isArray(v)) return v.map(fromAm)
  if (v instanceof Date) return v.toISOString()
  if (v instanceof Uint8Array) return b64(v)
  // Automerge returns 64-bit ints at the edge of the safe range as BigInt.
  if (typeof v === 'bigint') return Number(v)
  if (typeof v === 'object') {
    const out: JsonObject = {}
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = fromAm(x)
    return out
  }
  return null
}

export function docValue (doc: AmDoc): JsonObject {
  return fromAm(doc) as JsonObject
}

interface HydratingBackend {
  initRootFromHydrate?: (value: unknown) => void
  commit: (message?: string | null, time?: number | null) => unknown
  getLastLocalChange: () => Uint8Array | null
}

/**
 * The single Automerge change that creates a document holding `value`.
 * Encoded straight from its ops when the value allows it (create-change.ts:
 * the same bytes, about half the CPU); otherwise the backend's batch
 * initializer builds it: the same scalar-string change as `Automerge.from`
 * about twice as fast, because no JavaScript view of the document is
 * materialized (measured 7.2k vs 3.4k playlists/s). Falls back to
 * `Automerge.from` if a future Automerge drops it; tests apply the result in
 * a stock document either way.
 */
export function createChange (value: JsonObject, actor: string, time = Math.floor(Date.now() / 1000)): Uint8Array {
  const encoded = encodeCreateChange(value, actor, time)
  if (encoded !== undefined) return encoded
  const doc = A.init<Record<string, unknown>>({ actor })
  try {
    const backend = A.getBackend(doc) as unknown as HydratingBackend
    if (typeof backend.initRootFromHydrate !== 'function') return createDoc(value, actor).change
    backend.initRootFromHydrate(toAm(value))
    backend.commit(null, time)
    const change = backend.getLastLocalChange()
    if (change === null) throw new Error('automerge produced no change')
    return change
  } finally {
    A.free(doc)
  }
}

/** Create a document holding `value`; returns it and its single change. */
export function createDoc (value: JsonObject, actor: string): { doc: AmDoc, change: Uint8Array } {
  const doc = A.from(toAm(value) as Record<string, AmValue>, { actor }) as AmDoc
  const change = A.getLastLocalChange(doc)
  if (change === undefined) throw new Error('automerge produced no change')
  return { doc, change }
}

/**
 * Apply the minimal set of edits that turns `doc`'s value into `next`.
 * Returns the new doc and its change, or no change when nothing differs.
 * Pass `current` (the document's value as JSON) when it is already known:
 * converting a large document to JSON is the expensive part.
 */
export function updateDoc (doc: AmDoc, next: JsonObject, actor: string, current: JsonObject = docValue(doc)): { doc: AmDoc, change: Uint8Array | undefined } {
  if (deepEqual(current, next)) return { doc, change: undefined }
  return proxyChange(doc, actor, d => patchMap(d, current, next))
}

/**
 * Run a draft function on a plain JSON copy of the document's value and
 * record the result as `updateDoc` does (the one string rule: see the top of
 * this file). A draft that is no longer JSON is refused, the document
 * untouched.
 */
export function changeDoc (doc: AmDoc, actor: string, fn: (draft: Record<string, unknown>) => void): { doc: AmDoc, change: Uint8Array | undefined } {
  const current = docValue(doc)
  const draft = structuredClone(current)
  fn(draft)
  checkJsonObject(draft, Infinity)
  return updateDoc(doc, draft, actor, current)
}

/** `A.change` with `fn` on Automerge's own draft (patchMap's edit), as `actor`. */
function proxyChange (doc: AmDoc, actor: string, fn: (draft: Record<string, unknown>) => void): { doc: AmDoc, change: Uint8Array | undefined } {
  const mine = A.getActorId(doc) === actor ? doc : A.clone(doc, { actor })
  const after = A.change(mine, fn)
  if (after === mine) return { doc: after, change: undefined }
  const change = A.getLastLocalChange(after)
  return { doc: after, change }
}

/**
 * The minimal edit from `from` to `to` on an Automerge draft: unchanged
 * fields are left alone, nested maps and lists are patched in place (see
 * patchList), anything else is replaced. LiveDoc.update makes the same
 * backend calls without the draft.
 */
export function patchMap (draft: Record<string, unknown>, from: JsonObject, to: JsonObject): void {
  for (const k of Object.keys(from)) if (!Object.hasOwn(to, k)) Reflect.deleteProperty(draft, k)
  for (const [k, v] of Object.entries(to)) {
    const old = from[k]
    if (old !== undefined && deepEqual(old, v)) continue
    if (old !== undefined && isJsonObject(old) && isJsonObject(v)) {
      patchMap(draft[k] as Record<string, unknown>, old, v)
    } else if (Array.isArray(old) && Array.isArray(v)) {
      patchList(draft[k] as unknown[], old, v)
    } else {
      draft[k] = toAm(v)
    }
  }
}

/**
 * Where two lists differ: `start` is the length of their common prefix,
 * `endFrom`/`endTo` where their common suffix begins in each, and `paired`
 * how many elements of the window exist on both sides (patched in place;
 * the rest is spliced). Shared by patchList and live-doc.ts's backend twin,
 * which must make exactly the same edit.
 */
export function listEditWindow (from: JsonValue[], to: JsonValue[]): { start: number, endFrom: number, endTo: number, paired: number } {
  let start = 0
  while (start < from.length && start < to.length && deepEqual(from[start] as JsonValue, to[start] as JsonValue)) start++
  let endFrom = from.length
  let endTo = to.length
  while (endFrom > start && endTo > start && deepEqual(from[endFrom - 1] as JsonValue, to[endTo - 1] as JsonValue)) { endFrom--; endTo-- }
  return { start, endFrom, endTo, paired: Math.min(endFrom - start, endTo - start) }
}

/**
 * Lists keep their common prefix and suffix untouched, patch elements that
 * are objects at both ends in place, and splice the rest: a concurrent edit
 * elsewhere in the list survives the merge.
 */
function patchList (draft: unknown[], from: JsonValue[], to: JsonValue[]): void {
  const { start, endFrom, endTo, paired } = listEditWindow(from, to)
  for (let i = 0; i < paired; i++) {
    const a = from[start + i] as JsonValue
    const b = to[start + i] as JsonValue
    if (isJsonObject(a) && isJsonObject(b)) patchMap(draft[start + i] as Record<string, unknown>, a, b)
    else if (Array.isArray(a) && Array.isArray(b)) patchList(draft[start + i] as unknown[], a, b)
    else draft[start + i] = toAm(b)
  }
  const removeAt = start + paired
  const removeCount = endFrom - start - paired
  const inserts = to.slice(start + paired, endTo).map(toAm)
  if (removeCount > 0 || inserts.length > 0) draft.splice(removeAt, removeCount, ...inserts)
}

/** Load a document from a saved snapshot, or start empty. */
export function loadDoc (snapshot: Uint8Array | undefined, actor: string): AmDoc {
  return (snapshot === undefined ? A.init({ actor }) : A.load(snapshot, { actor })) as AmDoc
}

/**
 * Apply remote changes. Rejects bytes Automerge cannot parse, and changes
 * whose Automerge dependencies are not in the document (which Automerge
 * would otherwise queue silently, leaving the value stale).
 */
export function applyDocChanges (doc: AmDoc, changes: Uint8Array[]): AmDoc {
  for (const c of changes) {
    try {
      A.decodeChange(c)
    } catch {
      throw new BadRequestError('commit payload is not a valid Automerge change')
    }
  }
  let next: AmDoc
  try {
    [next] = A.applyChanges(doc, changes)
  } catch (err) {
    throw new BadRequestError(`Automerge rejected the change: ${(err as Error).message}`)
  }
  if (A.getMissingDeps(next, []).length > 0) {
    throw new BadRequestError('Automerge change depends on changes outside the commit\'s deps')
  }
  return next
}

interface ApplyingBackend {
  applyChanges: (changes: Uint8Array[]) => void
  materialize: (obj: string) => unknown
  getMissingDeps: (heads: string[]) => string[]
}

/**
 * The value a create commit's change produces, computed on the raw backend
 * (no JavaScript document view, no patches): ~2.8× faster than applying it
 * to a document, which matters when a new device ingests thousands of
 * objects. Rejects unparseable changes and changes with Automerge
 * dependencies (a create has none).
 */
export function valueOfCreateChange (change: Uint8Array): JsonObject {
  let decoded: A.DecodedChange
  try {
    decoded = A.decodeChange(change)
  } catch {
    throw new BadRequestError('commit payload is not a valid Automerge change')
  }
  if (decoded.deps.length > 0) throw new BadRequestError('a create commit\'s change must not depend on other changes')
  const fast = valueFromCreateOps(decoded)
  if (fast !== undefined) return fast
  const doc = A.init<Record<string, unknown>>()
  try {
    const backend = A.getBackend(doc) as unknown as Partial<ApplyingBackend>
    if (typeof backend.applyChanges !== 'function' || typeof backend.materialize !== 'function' || typeof backend.getMissingDeps !== 'function') {
      return docValue(applyDocChanges(doc, [change]))
    }
    try {
      backend.applyChanges([change])
    } catch (err) {
      throw new BadRequestError(`Automerge rejected the change: ${(err as Error).message}`)
    }
    if (backend.getMissingDeps([]).length > 0) throw new BadRequestError('a create commit\'s change must not depend on other changes')
    const value = fromAm(backend.materialize('_root'))
    if (!isJsonObject(value)) throw new BadRequestError('a create change must produce an object')
    return value
  } finally {
    A.free(doc)
  }
}

type Built = { kind: 'map', v: JsonObject } | { kind: 'list', ids: string[], v: JsonValue[] }

/** The fields of a decoded op we read (Automerge's `Op` type omits the list ones). */
interface WireOp { action: string, obj: string, key?: string, elemId?: string, insert?: boolean, value?: unknown, datatype?: string, pred: string[] }

/**
 * The value a create change produces, read straight from its decoded ops —
 * about 8× cheaper than applying it to a document and materializing, which
 * is most of the cost of a new device's first sync. Only the plain shapes
 * our writers produce are accepted: one actor, no deps, no overwritten or
 * deleted ops, maps, lists, and JSON scalars (scalar strings). Anything else
 * (Text, counters, timestamps, conflicts…) returns undefined and the caller
 * asks Automerge itself, so the result is always what Automerge computes.
 */
export function valueFromCreateOps (dc: A.DecodedChange): JsonObject | undefined {
  if (dc.deps.length > 0) return undefined
  const root: Built = { kind: 'map', v: {} }
  const objs = new Map<string, Built>([['_root', root]])
  let counter = dc.startOp
  for (const op of dc.ops as unknown as WireOp[]) {
    const id = `${counter++}@${dc.actor}`
    if (op.pred.length > 0) return undefined
    let value: JsonValue
    if (op.action === 'set') {
      const dt = op.datatype
      if (dt !== undefined && dt !== 'int' && dt !== 'uint' && dt !== 'float64' && dt !== 'str') return undefined
      const v: unknown = op.value
      if (v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) value = v as JsonValue
      else return undefined
    } else if (op.action === 'makeMap') {
      const o: Built = { kind: 'map', v: {} }
      objs.set(id, o)
      value = o.v
    } else if (op.action === 'makeList') {
      const o: Built = { kind: 'list', ids: [], v: [] }
      objs.set(id, o)
      value = o.v
    } else {
      return undefined
    }
    const parent = objs.get(op.obj)
    if (parent === undefined) return undefined
    if (parent.kind === 'map') {
      if (op.insert === true || typeof op.key !== 'string' || Object.hasOwn(parent.v, op.key)) return undefined
      parent.v[op.key] = value
    } else {
      if (op.insert !== true || typeof op.elemId !== 'string') return undefined
      // A single actor's later insert after the same element lands nearer to it (RGA), i.e. right after it.
      let at: number
      if (op.elemId === '_head') at = 0
      else if (parent.ids[parent.ids.length - 1] === op.elemId) at = parent.ids.length
      else {
        const i = parent.ids.indexOf(op.elemId)
        if (i < 0) return undefined
        at = i + 1
      }
      parent.ids.splice(at, 0, id)
      parent.v.splice(at, 0, value)
    }
  }
  return root.v
}

export function changeHash (change: Uint8Array): string {
  return A.decodeChange(change).hash
}

/** Who made a change and its place in that actor's sequence (undefined for bytes that are no change). */
export function changeSlot (change: Uint8Array): { actor: string, seq: number, hash: string } | undefined {
  try {
    const d = A.decodeChange(change)
    return { actor: d.actor, seq: d.seq, hash: d.hash }
  } catch {
    return undefined
  }
}

export function saveDoc (doc: AmDoc): Uint8Array { return A.save(doc) }
export function freeDoc (doc: AmDoc): void { A.free(doc) }
export function docHeads (doc: AmDoc): string[] { return A.getHeads(doc) }
