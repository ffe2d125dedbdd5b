/**
 * The conformance suite every KvStore implementation must pass, under
 * vitest. Call it from a test file with a factory for fresh, empty stores.
 * The cases themselves are kv-conformance-cases.ts (framework-free: the
 * browser store runs the same cases inside Chromium).
 */
import { describe, expect, it } from 'vitest'
import { KV_CONFORMANCE_CASES } from './kv-conformance-cases.js'
import type { KvStore } from './kv.js'

export function runKvConformance (name: string, make: () => Promise<KvStore>): void {
  describe(`KvStore conformance: ${name}`, () => {
    for (const c of KV_CONFORMANCE_CASES) {
      it(c.name, async () => { await c.run(make, expect) })
    }
  })
}
