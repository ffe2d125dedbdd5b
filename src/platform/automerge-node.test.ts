/**
 * Automerge's wasm compiled on first use (platform/automerge-node.ts): the
 * first call may be any Automerge function, synchronous or not, valid input
 * or not, and a later import of the package's default entry shares the
 * same wasm instance (documents move between the two APIs).
 */
import { expect, it } from 'vitest'
import * as A from '../objects/automerge-load.js'

/** A change made by stock Automerge 3.5 (`from({ name: 'Classic Rock', n: 2 }, { actor: 'aabbccdd' })`). */
const CHANGE = Buffer.from('hW9Kg/L6SwoBXAAEqrvM3QEBkp/M2AYAAAoBBAIEEQQTBxUKNAJCBVYFVw1wAgACDAAAAgwCAAMLAAACfgADCgF+AW4EbmFtZQAMAgx+AQQMAX4UAAwWAkNsYXNzaWMgUm9jaw4A', 'base64')
const HASH = 'f2fa4b0a21d8aa3c23fa6de32cbf0cc0f1bf1fdaa9091c5138caeeb6849ac719'

it('loads the wasm on the first call — a synchronous one with hostile bytes — and one instance serves both entries', async () => {
  // Nothing in this process has called Automerge yet: importing it compiled nothing.
  expect(A.automergeLoaded()).toBe(false)
  // The first call of all is a synchronous decode of bytes that are no change: it fails as Automerge fails…
  expect(() => A.decodeChange(new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 1, 2, 3]))).toThrow()
  expect(A.automergeLoaded()).toBe(true)
  // …and the backend stays usable.
  expect(A.decodeChange(CHANGE)).toMatchObject({ hash: HASH, actor: 'aabbccdd', seq: 1 })
  const [doc] = A.applyChanges(A.init<Record<string, unknown>>(), [CHANGE])
  expect(A.toJS(doc)).toEqual({ name: 'Classic Rock', n: 2 })

  // The package's default entry, imported now, installs the binding it shares with this seam.
  const Stock = await import('@automerge/automerge')
  const theirs = Stock.change(Stock.load<Record<string, unknown>>(A.save(doc)), d => { d['n'] = 3 })
  const merged = A.merge(A.clone(doc), theirs)
  expect(A.toJS(merged)).toEqual({ name: 'Classic Rock', n: 3 })
  expect(Stock.getHeads(merged)).toEqual(A.getHeads(theirs))
})
