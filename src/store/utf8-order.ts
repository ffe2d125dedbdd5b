/**
 * The store's key order on JavaScript strings, one home for the query
 * merge (query.ts) and the tab's store (browser-kv.ts, merging its two
 * object stores). Pure.
 *
 * Compare two strings in UTF-8 byte order (= code point order) without
 * encoding them: UTF-16 code units order the same way except that
 * surrogates (U+D800–DFFF, which start code points above U+FFFF) must sort
 * after U+E000–FFFF. Lone surrogates count as U+FFFD, as in their UTF-8
 * encoding (and in the index keys).
 */
export function compareUtf8 (a: string, b: string): number {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    if (x >= 0xd800 && x <= 0xdfff && !pairedAt(a, i, x)) return compareUtf8(a.slice(0, i) + '\ufffd' + a.slice(i + 1), b)
    if (y >= 0xd800 && y <= 0xdfff && !pairedAt(b, i, y)) return compareUtf8(a, b.slice(0, i) + '\ufffd' + b.slice(i + 1))
    x = x >= 0xe000 ? x - 0x800 : x >= 0xd800 ? x + 0x2000 : x
    y = y >= 0xe000 ? y - 0x800 : y >= 0xd800 ? y + 0x2000 : y
    return x < y ? -1 : 1
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0
}

/** Whether the surrogate `c` at `i` is half of a well-formed pair. */
function pairedAt (s: string, i: number, c: number): boolean {
  if (c <= 0xdbff) { const d = s.charCodeAt(i + 1); return d >= 0xdc00 && d <= 0xdfff }
  const d = s.charCodeAt(i - 1)
  return d >= 0xd800 && d <= 0xdbff
}
