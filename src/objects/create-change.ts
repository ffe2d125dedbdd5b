/**
 * A create change encoded from its ops, without a document: the same bytes
 * as the backend's batch initializer (`initRootFromHydrate` + `commit`),
 * for about half the CPU — no wasm document is made, and no JavaScript
 * callback runs per value (the initializer asks every registered datatype
 * whether it owns each value).
 *
 * It has to emit exactly the initializer's ops, in its order: an object's
 * entries first (a map's keys in code-point order, a list's elements in
 * order), then each object it made, breadth first; numbers as the
 * initializer types them (an integer ≥ 1 is `int`, anything else
 * `float64`). `A.encodeChange` does not keep every float64 exactly (it
 * turns -0 into 0 and moves ~1 in 5 random doubles by an ulp), so only
 * values whose numbers are safe integers other than -0, and with no
 * `__proto__` key, take this path; for anything else it returns undefined
 * and the caller uses the initializer.
 * src/objects/create-change.test.ts compares the bytes with the
 * initializer's for arbitrary JSON.
 */
import * as A from './automerge-load.js'
import type { JsonObject, JsonValue } from './json.js'

interface Op {
  action: 'set' | 'makeMap' | 'makeList'
  obj: string
  key?: string
  elemId?: string
  insert?: boolean
  datatype?: 'int' | 'float64'
  value?: string | number | boolean | null
  pred: string[]
}

/** Not representable on this path: the caller falls back to the initializer. */
const NO = Symbol('no fast path')

/** Order of UTF-8 bytes (= code points), which the initializer's sorted map uses; JavaScript's `<` compares UTF-16 units. */
export function compareCodePoints (a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    // A surrogate (an astral code point) sorts after U+E000–U+FFFF in code-point order.
    const sx = x >= 0xD800 && x <= 0xDFFF
    const sy = y >= 0xD800 && y <= 0xDFFF
    if (sx !== sy) return sx ? 1 : -1
    return x - y
  }
  return a.length - b.length
}

function setOp (base: Omit<Op, 'action'>, v: string | number | boolean | null): Op | typeof NO {
  if (typeof v !== 'number') return { action: 'set', ...base, value: v }
  if (!Number.isSafeInteger(v) || Object.is(v, -0)) return NO
  return { action: 'set', ...base, datatype: v >= 1 ? 'int' : 'float64', value: v }
}

/** The create change holding `value`, or undefined when a number in it needs the initializer. */
export function encodeCreateChange (value: JsonObject, actor: string, time: number): Uint8Array | undefined {
  const ops: Op[] = []
  let counter = 1
  const queue: Array<[string, JsonObject | JsonValue[]]> = [['_root', value]]
  for (let q = 0; q < queue.length; q++) {
    const [obj, v] = queue[q] as [string, JsonObject | JsonValue[]]
    const emit = (base: Omit<Op, 'action'>, x: JsonValue): string | typeof NO => {
      const id = `${counter++}@${actor}`
      if (Array.isArray(x)) {
        ops.push({ action: 'makeList', ...base })
        queue.push([id, x])
      } else if (x !== null && typeof x === 'object') {
        ops.push({ action: 'makeMap', ...base })
        queue.push([id, x])
      } else {
        const op = setOp(base, x)
        if (op === NO) return NO
        ops.push(op)
      }
      return id
    }
    if (Array.isArray(v)) {
      let prev = '_head'
      for (const x of v) {
        const id = emit({ obj, elemId: prev, insert: true, pred: [] }, x)
        if (id === NO) return undefined
        prev = id
      }
    } else {
      for (const k of Object.keys(v).sort(compareCodePoints)) {
        // toAm cannot carry an own `__proto__` key to the initializer (the assignment sets a prototype): its path decides.
        if (k === '__proto__' || emit({ obj, key: k, pred: [] }, v[k] as JsonValue) === NO) return undefined
      }
    }
  }
  if (ops.length === 0) return undefined
  return A.encodeChange({ actor, seq: 1, startOp: 1, time, message: null, deps: [], ops } as unknown as A.DecodedChange)
}
