/** Smoke page: the SDK bundle loads in Chromium, Automerge's wasm instantiates, keys sign. */
import { Ed25519KeyPair } from '../../../src/client/index.js'
import * as A from '@automerge/automerge'

const w = window as unknown as Record<string, unknown>
try {
  const key = Ed25519KeyPair.generate()
  const doc = A.change(A.init<{ n?: number }>(), d => { d.n = 1 })
  w.__result = { did: key.did, n: doc.n, bytes: A.save(doc).length }
  w.__ready = true
} catch (err) {
  w.__error = (err as Error).stack ?? String(err)
}
