/**
 * Input mutation for the hostile-input fuzz tests (hostile.test.ts over
 * libp2p, http-hostile.test.ts over HTTP): fast-check arbitraries for lists
 * of mutations, and the functions that apply them to a valid message, as a
 * JSON value (fields deleted, replaced, added, wrapped, duplicated) or as
 * text (characters flipped, deleted, inserted, truncated, duplicated,
 * swapped). Each test supplies its own hostile values and the keys it aims
 * at; what a mutation does is shared.
 *
 * Mutations clone: `mutate` works on a copy of the value, so the caller's
 * message is never changed, and inserts copies of the mutation's values,
 * because fast-check hands out the same constant objects again (`{}`,
 * `[null]` among the hostile values): changed in place they would alter
 * later inputs, so a seed would no longer reproduce a run, and one object
 * inserted twice could make a cycle.
 */
import * as fc from 'fast-check'

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

export interface Mut { op: 'delete' | 'set' | 'add' | 'wrap' | 'dup', at: number, key: string, value: Json }
export interface TextMut { op: 'flip' | 'delete' | 'insert' | 'truncate' | 'dup' | 'swap', at: number, len: number, s: string }

/**
 * 1 to 3 JSON mutations, each at some node of the value. `keys` are the keys
 * tried for added, wrapping and duplicated entries (besides random short
 * ones), `value` the values set or added.
 */
export function jsonMutsArb (keys: readonly string[], value: fc.Arbitrary<Json>): fc.Arbitrary<Mut[]> {
  return fc.array(fc.record({
    op: fc.constantFrom<Mut['op']>('delete', 'set', 'set', 'add', 'wrap', 'dup'),
    at: fc.nat(),
    key: fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 8 })),
    value
  }), { minLength: 1, maxLength: 3 })
}

/** 1 to 4 text mutations. */
export const textMutsArb: fc.Arbitrary<TextMut[]> = fc.array(fc.record({
  op: fc.constantFrom<TextMut['op']>('flip', 'flip', 'delete', 'insert', 'truncate', 'dup', 'swap'),
  at: fc.nat(),
  len: fc.nat({ max: 16 }),
  s: fc.string({ maxLength: 6, unit: 'binary' })
}), { minLength: 1, maxLength: 4 })

function isObj (v: Json): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** An own data property, even for keys such as `__proto__`. */
function setOwn (o: { [k: string]: Json }, k: string, v: Json): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
}

const clone = (v: Json): Json => JSON.parse(JSON.stringify(v)) as Json

/** Paths to the nodes of a value (at most 200, at most 7 deep), root first. */
function allPaths (root: Json): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = []
  const stack: Array<{ v: Json, p: Array<string | number> }> = [{ v: root, p: [] }]
  while (stack.length > 0 && out.length < 200) {
    const { v, p } = stack.pop() as { v: Json, p: Array<string | number> }
    out.push(p)
    if (p.length > 6) continue
    if (Array.isArray(v)) v.forEach((c, i) => stack.push({ v: c, p: [...p, i] }))
    else if (isObj(v)) for (const k of Object.keys(v)) stack.push({ v: v[k] as Json, p: [...p, k] })
  }
  return out
}

function at (root: Json, path: Array<string | number>): Json {
  let v: Json = root
  for (const k of path) v = Array.isArray(v) ? v[k as number] as Json : isObj(v) ? v[k as string] as Json : null
  return v
}

/** `value` with `muts` applied in turn (a new value: `value` is left as it was). */
export function mutate (value: Json, muts: Mut[]): Json {
  let root = clone(value)
  for (const mut of muts) {
    // A fresh copy: fast-check hands out the same constant objects again, which must never be
    // mutated (nor inserted twice, which could make a cycle).
    const m = { ...mut, value: clone(mut.value) }
    const paths = allPaths(root)
    const path = paths[m.at % paths.length] as Array<string | number>
    const node = at(root, path)
    if (path.length === 0) {
      switch (m.op) {
        case 'delete': root = null; break
        case 'set': root = m.value; break
        case 'add': if (isObj(root)) setOwn(root, m.key, m.value); else if (Array.isArray(root)) root.push(m.value); else root = m.value; break
        case 'wrap': root = m.key.length % 2 === 0 ? [root] : { [m.key]: root }; break
        case 'dup': root = [root, root]; break
      }
      continue
    }
    const parent = at(root, path.slice(0, -1))
    const last = path[path.length - 1] as string | number
    const put = (v: Json): void => {
      if (Array.isArray(parent)) parent[last as number] = v
      else if (isObj(parent)) setOwn(parent, String(last), v)
    }
    switch (m.op) {
      case 'delete':
        if (Array.isArray(parent)) parent.splice(last as number, 1)
        else if (isObj(parent)) Reflect.deleteProperty(parent, String(last))
        break
      case 'set': put(m.value); break
      case 'add':
        if (isObj(node)) setOwn(node, m.key, m.value)
        else if (Array.isArray(node)) node.push(m.value)
        else put(m.value)
        break
      case 'wrap': put(m.key.length % 2 === 0 ? [node] : { [m.key]: node }); break
      case 'dup':
        if (Array.isArray(parent)) parent.splice(last as number, 0, node)
        else if (isObj(parent)) setOwn(parent, m.key === '' ? `${String(last)}2` : m.key, node)
        break
    }
  }
  return root
}

/** `s` with `muts` applied in turn. */
export function mutateText (s: string, muts: TextMut[]): string {
  for (const m of muts) {
    const i = m.at % (s.length + 1)
    switch (m.op) {
      case 'flip': {
        const c = s.charCodeAt(i)
        s = Number.isNaN(c) ? s + m.s : s.slice(0, i) + String.fromCharCode(c ^ (1 << (m.len % 7))) + s.slice(i + 1)
        break
      }
      case 'delete': s = s.slice(0, i) + s.slice(i + 1 + m.len); break
      case 'insert': s = s.slice(0, i) + m.s + s.slice(i); break
      case 'truncate': s = s.slice(0, i); break
      case 'dup': s = s.slice(0, i) + s.slice(i, i + m.len + 1).repeat(2) + s.slice(i + m.len + 1); break
      case 'swap': {
        const j = (i + m.len + 1) % (s.length + 1)
        const [a, b] = i < j ? [i, j] : [j, i]
        s = s.slice(0, a) + s.slice(b, b + 1) + s.slice(a + 1, b) + s.slice(a, a + 1) + s.slice(b + 1)
        break
      }
    }
  }
  return s
}
