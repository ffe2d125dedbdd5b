/**
 * The layer rule (scripts/check-layers.mjs, run by `npm run lint`): it must
 * catch an import of a lower layer, an SDK import of store code and a cycle,
 * and the source tree must pass it.
 */
import { describe, expect, it } from 'vitest'
// @ts-expect-error plain JavaScript module without types
import { check, graphOf } from '../scripts/check-layers.mjs'

type Graph = Record<string, string[]>
const run = check as (g: Graph) => string[]

describe('layer rule', () => {
  it('refuses an import of a lower layer', () => {
    expect(run({ 'store/a.ts': ['net/b.ts'], 'net/b.ts': [] })).toEqual(['store/a.ts → net/b.ts: store may not import net (a lower layer)'])
  })
  it('allows an import of a higher layer and of its own', () => {
    expect(run({ 'net/b.ts': ['store/a.ts', 'net/c.ts'], 'store/a.ts': [], 'net/c.ts': [] })).toEqual([])
  })
  it('keeps store code out of the app SDK, but lets it share the wire formats', () => {
    expect(run({ 'client/x.ts': ['store/tenant-store.ts', 'request/token.ts', 'net/channel.ts'], 'store/tenant-store.ts': [], 'request/token.ts': [], 'net/channel.ts': [] }))
      .toEqual(['client/x.ts → store/tenant-store.ts: the app SDK may not import store/'])
  })
  it('finds an import cycle, type-only imports included', () => {
    expect(run({ 'store/a.ts': ['store/b.ts'], 'store/b.ts': ['store/a.ts'] })).toEqual(['import cycle: store/a.ts ↔ store/b.ts'])
  })
  it('names a module that belongs to no layer', () => {
    expect(run({ 'stray.ts': [] })[0]).toMatch(/^stray\.ts: in no layer/)
  })
  it('the source tree passes', () => {
    expect(run((graphOf as () => Graph)())).toEqual([])
  })
})
