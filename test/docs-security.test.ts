/**
 * docs/security.md promises that every claim names its test. This keeps the
 * promise: every `file › test name` reference in it (and every bare test
 * file it names) must point at a test file that exists and holds a test or
 * suite whose title contains the quoted pieces, in order. "…" in a reference
 * stands for omitted words; `… › name` refers to the file named just before.
 */
import { readFile, access } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'

const ROOT = new URL('../', import.meta.url)

/** Titles of every it/test/describe in a test file (string or template literals without interpolation of the quoted part). */
async function titles (file: string): Promise<string[]> {
  const src = await readFile(new URL(file, ROOT), 'utf8')
  const out: string[] = []
  for (const m of src.matchAll(/\b(?:it|test|describe)(?:\.\w+)?\(\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|`((?:[^`\\]|\\.)*)`)/g)) {
    out.push((m[1] ?? m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1'))
  }
  return out
}

interface Ref { file: string, name?: string, raw: string }

/** The test references of a Markdown page: code spans naming a *.test.ts file, or `… › name` after one. */
function references (markdown: string): Ref[] {
  const out: Ref[] = []
  let last: string | undefined
  for (const m of markdown.matchAll(/`([^`]+)`/g)) {
    const span = (m[1] as string).replace(/\s+/g, ' ').trim()
    const [head, ...rest] = span.split(' › ')
    const name = rest.length > 0 ? rest.join(' › ') : undefined
    if (head !== undefined && /\.test\.ts$/.test(head)) {
      last = head
      out.push({ file: head, ...(name !== undefined ? { name } : {}), raw: span })
    } else if (head === '…' && name !== undefined) {
      if (last === undefined) throw new Error(`"${span}" refers to a previous test file, but none was named before it`)
      out.push({ file: last, name, raw: span })
    }
  }
  return out
}

function matches (title: string, name: string): boolean {
  const pieces = name.split('…').map(p => p.trim()).filter(p => p.length > 0)
  let at = 0
  for (const p of pieces) {
    const i = title.indexOf(p, at)
    if (i < 0) return false
    at = i + p.length
  }
  return pieces.length > 0
}

describe('docs/security.md names real tests', () => {
  it('every referenced test file exists and every named test is in it', async () => {
    const md = await readFile(new URL('docs/security.md', ROOT), 'utf8')
    const refs = references(md)
    expect(refs.length).toBeGreaterThan(30)
    const missing: string[] = []
    const cache = new Map<string, string[]>()
    for (const r of refs) {
      try {
        await access(new URL(r.file, ROOT))
      } catch {
        missing.push(`${r.raw}: no file ${r.file}`)
        continue
      }
      if (r.name === undefined) continue
      if (!cache.has(r.file)) cache.set(r.file, await titles(r.file))
      const all = cache.get(r.file) as string[]
      if (!all.some(t => matches(t, r.name as string))) missing.push(`${r.raw}: no such test in ${r.file}`)
    }
    expect(missing).toEqual([])
  })

  it('the checker catches a wrong name and a missing file', async () => {
    const refs = references('`test/attacks.test.ts › attack 9: nothing like this` and `test/none.test.ts`')
    expect(refs).toHaveLength(2)
    const t = await titles('test/attacks.test.ts')
    expect(t.some(x => matches(x, 'attack 9: nothing like this'))).toBe(false)
    expect(t.some(x => matches(x, 'attack 4: errors …'))).toBe(true)
    await expect(access(new URL('test/none.test.ts', ROOT))).rejects.toThrow()
  })
})
