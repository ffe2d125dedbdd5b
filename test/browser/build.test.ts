/**
 * The browser build's own parts, under Node (no Chromium needed):
 * - the standalone protocol validators that replace src/protocol-schemas.ts
 *   in a bundle (no eval, for a strict CSP) judge every value exactly as the
 *   hub's run-time-compiled ones do: same verdict, same first error, for
 *   real protocol messages, their mutations and arbitrary values;
 * - the size budget check flags what is over it.
 */
import { afterAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { ValidateFunction } from 'ajv'
// @ts-expect-error plain JavaScript module without types
import { BUDGETS, overBudget, protocolSchemasModule } from '../../scripts/build-browser.mjs'
import { protocolValidator } from '../../src/protocol-schemas.js'
import { signCommit } from '../../src/commits/commit.js'
import { Ed25519KeyPair } from '../../src/identity/keys.js'

// Inside node_modules/ so that the module's `ajv/dist/runtime/*` imports resolve.
const cache = resolve('node_modules/.cache')
mkdirSync(cache, { recursive: true })
const dir = mkdtempSync(join(cache, 'protocol-schemas-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

interface Standalone { PROTOCOL_REFS: string[], protocolValidator: (ref: string) => ValidateFunction }

async function standalone (): Promise<Standalone> {
  const file = join(dir, 'protocol-schemas.mjs')
  writeFileSync(file, (protocolSchemasModule as () => string)())
  return await import(pathToFileURL(file).href) as Standalone
}

function verdict (v: ValidateFunction, value: unknown): unknown {
  const ok = v(value)
  const e = v.errors?.[0]
  return ok ? true : { keyword: e?.keyword, instancePath: e?.instancePath, schemaPath: e?.schemaPath }
}

/** Each value with one property removed, or set to something of the wrong type. */
function mutations (value: Record<string, unknown>): unknown[] {
  const out: unknown[] = []
  for (const k of Object.keys(value)) {
    const { [k]: _gone, ...rest } = value
    out.push(rest)
    for (const bad of [null, 42, -1, 'x', '', [], {}, true, 2 ** 53]) out.push({ ...value, [k]: bad })
  }
  out.push({ ...value, extra: 1 })
  return out
}

describe('browser build', () => {
  it('standalone protocol validators agree with the hub\'s compiled ones', async () => {
    const s = await standalone()
    expect(s.PROTOCOL_REFS.length).toBeGreaterThan(10)
    const key = Ed25519KeyPair.generate()
    const commit = signCommit({ interface: 'Collections', context: 'https://schema.org', type: 'MusicPlaylist', operation: 'create', committed_at: new Date().toISOString(), commit_strategy: 'lww', sub: key.did, deps: [] }, new TextEncoder().encode('{}'), key)
    const samples: Array<Record<string, unknown>> = [
      commit.header as unknown as Record<string, unknown>, commit.envelope as unknown as Record<string, unknown>,
      { t: 'request', id: 1, jws: 'a.b.c' }, { t: 'cancel', id: 7 }, { t: 'response', id: 1, result: { objects: [] } },
      { t: 'error', id: 1, code: 'not_found', message: 'no' }, { t: 'event', id: 2, event: { kind: 'changed' } }, { t: 'end', id: 2, code: 'permissions_required', message: 'revoked' }
    ]
    const corpus: unknown[] = [undefined, null, 0, 'x', [], {}, ...samples, ...samples.flatMap(mutations)]
    const arbitrary = fc.sample(fc.anything({ withObjectString: true, maxDepth: 3 }), { numRuns: 150, seed: 15 })
    for (const ref of s.PROTOCOL_REFS) {
      const compiled = protocolValidator(ref)
      const alone = s.protocolValidator(ref)
      for (const value of [...corpus, ...arbitrary]) {
        expect(verdict(alone, value), `${ref} on ${JSON.stringify(value)}`).toEqual(verdict(compiled, value))
      }
    }
    // The real messages pass where they should (the corpus is not all refusals).
    expect(protocolValidator('https://identity-hub.local/schemas/commit-envelope/v1')(commit.envelope)).toBe(true)
    expect(s.protocolValidator('https://identity-hub.local/schemas/commit-envelope/v1')(commit.envelope)).toBe(true)
    expect(() => s.protocolValidator('https://example.org/nope')).toThrow(/missing/)
  })

  it('flags every size over its budget', () => {
    const within = { entries: { client: { initial: BUDGETS.client.initial, total: BUDGETS.client.total } }, wasm: { bytes: 1, gzip: BUDGETS.wasm } }
    expect(overBudget(within)).toEqual([])
    const over = { entries: { client: { initial: BUDGETS.client.initial + 1, total: BUDGETS.client.total + 1 }, other: { initial: 1e9, total: 1e9 } }, wasm: { bytes: 1, gzip: BUDGETS.wasm + 1 } }
    const problems = overBudget(over) as string[]
    expect(problems).toHaveLength(3)
    expect(problems.join('\n')).toMatch(/client: initial JS[\s\S]*client: total JS[\s\S]*automerge\.wasm/)
  })
})
