/**
 * An object's Automerge document as the store keeps it between writes: the
 * wasm backend, driven directly on the hot path.
 *
 * `A.change` costs, on top of the backend's own work, a proxy per object
 * touched, a patch log, and patches applied to a JavaScript view of the
 * whole document — which the store never reads: an object's value lives in
 * its meta as JSON. So a whole-value update here makes the very backend
 * calls `A.change` would make for the same edit (`update` mirrors what
 * `patchMap` does through Automerge's proxies, call for call), with the
 * patch log off and no view, and the change bytes are the ones stock
 * Automerge produces (src/objects/live-doc.test.ts compares them).
 *
 * A draft function (`change`) runs on a plain JSON copy of the value and
 * is recorded as the whole-value update of its result (the one string rule,
 * automerge.ts). Remote changes (and an object's log, on load) are applied
 * on the backend alone too. Only a document whose shape its JSON value
 * hides (a counter, Text another writer made where a map is expected…)
 * needs Automerge's own proxies: that update runs on a JavaScript view made
 * on demand from the same backend. Any other write drops the view (and
 * turns the patch log off), so a stale view is never used and no patch log
 * grows unread.
 */
import * as A from './automerge-load.js'
import { BadRequestError } from '../errors.js'
import { docValue, fromAm, listEditWindow, patchMap, toAm, type AmDoc } from './automerge.js'
import { checkJsonObject, deepEqual, isJsonObject, type JsonObject, type JsonValue } from './json.js'

type Backend = ReturnType<typeof A.getBackend>

/** Raised inside a raw update when the document's shape is not what its JSON value suggests: the stock path takes over. */
class Unmirrored extends Error {}

export class LiveDoc {
  #handle: Backend
  /** A JavaScript view of the current state, or undefined (then the patch log is off). */
  #view: AmDoc | undefined
  /**
   * The current value as JSON once known (undefined: materialize it), so a
   * draft function starts from it without asking the backend. It is the
   * value last written here (`to`, or a draft's result), which the store
   * also keeps as the object's meta value and never mutates (frozen once
   * published), or the value materialized after other writes.
   */
  #json: JsonObject | undefined

  private constructor (doc: AmDoc) {
    this.#handle = A.getBackend(doc)
    this.#view = doc
  }

  /** Load a document from a saved snapshot, or start empty. */
  static load (snapshot: Uint8Array | undefined, actor: string): LiveDoc {
    const doc = (snapshot === undefined ? A.init({ actor }) : A.load(snapshot, { actor })) as AmDoc
    return new LiveDoc(doc)
  }

  /**
   * The change that turns the document's value — `from`, as JSON — into
   * `to`, recorded as the minimal edit (see patchMap), with the new value
   * (`to` itself); undefined when they are equal. The document holds the
   * change afterwards.
   */
  update (from: JsonObject, to: JsonObject, time = nowSeconds()): { change: Uint8Array, value: JsonObject } | undefined {
    if (deepEqual(from, to)) return undefined
    this.#dropView()
    this.#json = undefined
    const h = this.#handle
    try {
      rawPatchMap(h, '_root', from, to)
    } catch (err) {
      h.rollback()
      if (!(err instanceof Unmirrored)) throw err
      // A shape the JSON value does not show (a counter, Text…): let Automerge's proxies decide.
      const out = this.#viaView(d => patchMap(d, from, to), time)
      return out === undefined ? undefined : { change: out.change, value: to }
    }
    if (h.pendingOps() === 0) return undefined
    h.commit(undefined, time)
    h.integrate()
    const change = h.getLastLocalChange()
    if (change === null) throw new Error('automerge produced no change')
    this.#json = to
    return { change, value: to }
  }

  /**
   * Run a draft function on a plain JSON copy of the value (strings are
   * strings, as `value()` returns them) and record what it changed exactly
   * as `update` records a whole value: the minimal edit, strings as scalar
   * strings. So `change(fn)` and `update(from, to)` make the same commit for
   * the same result (docs/architecture.md, "one string rule"). A draft that
   * is not JSON afterwards (a Date, undefined, a class instance, NaN…) is
   * refused before the document is touched. The change and the new value,
   * or undefined if it changed nothing.
   */
  change (fn: (draft: Record<string, unknown>) => void, time = nowSeconds()): { change: Uint8Array, value: JsonObject } | undefined {
    const from = this.value()
    const draft = structuredClone(from)
    fn(draft)
    checkJsonObject(draft, Infinity)
    return this.update(from, draft, time)
  }

  /**
   * Apply changes (remote ones, or an object's log on load) on the backend
   * alone: no patches. Rejects what applyDocChanges rejects, with the same
   * errors; after a throw the document may hold part of them and must be
   * dropped.
   */
  applyChanges (changes: Uint8Array[]): void {
    for (const c of changes) {
      try {
        A.decodeChange(c)
      } catch {
        throw new BadRequestError('commit payload is not a valid Automerge change')
      }
    }
    this.#dropView()
    this.#json = undefined
    const h = this.#handle
    try {
      h.applyChanges(changes)
    } catch (err) {
      throw new BadRequestError(`Automerge rejected the change: ${(err as Error).message}`)
    }
    if (h.getMissingDeps([]).length > 0) throw new BadRequestError('Automerge change depends on changes outside the commit\'s deps')
  }

  /** The current value as JSON: read-only (it is also the value kept for the next draft). */
  value (): JsonObject {
    this.#json ??= this.#view !== undefined ? docValue(this.#view) : fromAm(this.#handle.materialize('/')) as JsonObject
    return this.#json
  }

  /** The document as a standard (compressed) Automerge binary. */
  save (): Uint8Array { return this.#handle.save() }
  /**
   * The document as an uncompressed Automerge binary, which `A.load` reads
   * like a compressed one: for the store's snapshot cache, where writing it
   * costs ~10× less CPU (measured 56 vs 588 µs with 1,000 changes of
   * history) for ~2.5× the bytes.
   */
  snapshot (): Uint8Array { return this.#handle.saveNoCompress() }
  heads (): string[] { return this.#handle.getHeads() }
  free (): void {
    this.#view = undefined
    this.#json = undefined
    this.#handle.free()
  }

  #viaView (fn: (draft: Record<string, unknown>) => void, time: number): { change: Uint8Array, value: JsonObject } | undefined {
    const before = this.#ensureView()
    const after = A.change(before, { time }, fn)
    if (after === before) return undefined
    this.#view = after
    this.#json = undefined
    const change = A.getLastLocalChange(after)
    if (change === undefined) throw new Error('automerge produced no change')
    return { change, value: docValue(after) }
  }

  /**
   * A view of the current state on this backend, made as `A.init`/`A.load`
   * make theirs (the backend materializes the root with the document's
   * metadata), with the patch log on from the current heads so that the
   * next `A.change` patches it incrementally.
   */
  #ensureView (): AmDoc {
    if (this.#view !== undefined) return this.#view
    const handle = this.#handle
    handle.updateDiffCursor()
    let view: unknown
    try {
      view = handle.materialize('/', undefined, { handle, heads: undefined, freeze: false, patchCallback: undefined })
    } catch {
      view = undefined
    }
    if (!A.isAutomerge(view) || A.getBackend(view as AmDoc) !== handle) {
      // Not how this Automerge makes documents: start over from the bytes.
      const doc = A.load(handle.save(), { actor: handle.getActorId() }) as AmDoc
      handle.free()
      this.#handle = A.getBackend(doc)
      view = doc
    }
    this.#view = view as AmDoc
    return this.#view
  }

  #dropView (): void {
    if (this.#view === undefined) return
    this.#view = undefined
    this.#handle.resetDiffCursor()
  }
}

function nowSeconds (): number { return Math.floor(Date.now() / 1000) }

/** The object id under `prop` when it is an object of `kind`; anything else is not what the JSON value showed. */
function child (h: Backend, obj: string, prop: string | number, kind: 'map' | 'list'): string {
  const got = h.getWithType(obj, prop)
  if (got === null || got[0] !== kind || typeof got[1] !== 'string') throw new Unmirrored()
  return got[1]
}

/** `[value, datatype]` as Automerge's proxies import a scalar (strings as scalar strings, see toAm). */
function scalar (v: string | number | boolean | null): [string | number | boolean | null, 'str' | 'int' | 'f64' | 'boolean' | 'null'] {
  if (v === null) return [null, 'null']
  if (typeof v === 'string') return [v, 'str']
  if (typeof v === 'boolean') return [v, 'boolean']
  return [v, Number.isInteger(v) ? 'int' : 'f64']
}

/** Objects are written in one batch call, as the proxies do; a `__proto__` key is theirs to refuse. */
function hydrated (v: JsonValue): unknown {
  if (hasProtoKey(v)) throw new Unmirrored()
  return toAm(v)
}

function hasProtoKey (v: JsonValue): boolean {
  if (Array.isArray(v)) return v.some(hasProtoKey)
  if (isJsonObject(v)) return Object.keys(v).some(k => k === '__proto__' || hasProtoKey(v[k] as JsonValue))
  return false
}

/** `draft[key] = toAm(v)` on a map proxy. */
function putInMap (h: Backend, obj: string, key: string, v: JsonValue): void {
  if (key === '__proto__') throw new Unmirrored()
  if (v !== null && typeof v === 'object') h.putObjectFromHydrate(obj, key, hydrated(v))
  else h.put(obj, key, ...scalar(v))
}

/** `draft[index] = toAm(v)` on a list proxy. */
function putInList (h: Backend, obj: string, index: number, v: JsonValue): void {
  const past = index >= h.length(obj)
  if (v !== null && typeof v === 'object') {
    const value = hydrated(v)
    if (past) h.insertObjectFromHydrate(obj, index, value)
    else h.putObjectFromHydrate(obj, index, value)
  } else if (past) {
    h.insert(obj, index, ...scalar(v))
  } else {
    h.put(obj, index, ...scalar(v))
  }
}

/** patchMap (automerge.ts), on the backend. */
function rawPatchMap (h: Backend, obj: string, from: JsonObject, to: JsonObject): void {
  for (const k of Object.keys(from)) if (!Object.hasOwn(to, k)) h.delete(obj, k)
  for (const [k, v] of Object.entries(to)) {
    const old = from[k]
    if (old !== undefined && deepEqual(old, v)) continue
    if (old !== undefined && isJsonObject(old) && isJsonObject(v)) {
      rawPatchMap(h, child(h, obj, k, 'map'), old, v)
    } else if (Array.isArray(old) && Array.isArray(v)) {
      rawPatchList(h, child(h, obj, k, 'list'), old, v)
    } else {
      putInMap(h, obj, k, v)
    }
  }
}

/** patchList (automerge.ts), on the backend. */
function rawPatchList (h: Backend, obj: string, from: JsonValue[], to: JsonValue[]): void {
  const { start, endFrom, endTo, paired } = listEditWindow(from, to)
  for (let i = 0; i < paired; i++) {
    const a = from[start + i] as JsonValue
    const b = to[start + i] as JsonValue
    if (isJsonObject(a) && isJsonObject(b)) rawPatchMap(h, child(h, obj, start + i, 'map'), a, b)
    else if (Array.isArray(a) && Array.isArray(b)) rawPatchList(h, child(h, obj, start + i, 'list'), a, b)
    else putInList(h, obj, start + i, b)
  }
  const removeAt = start + paired
  const removeCount = endFrom - start - paired
  const inserts = to.slice(start + paired, endTo)
  if (removeCount > 0 || inserts.length > 0) {
    if (inserts.some(hasProtoKey)) throw new Unmirrored()
    h.spliceFromHydrate(obj, removeAt, removeCount, inserts.map(toAm))
  }
}
