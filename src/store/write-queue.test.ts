import { describe, expect, it } from 'vitest'
import { TestKv } from '../../test/test-kv.js'
import { WriteQueue } from './write-queue.js'
import type { KvOp, KvStore } from './kv.js'

const b = (s: string): Uint8Array => new TextEncoder().encode(s)

class CountingKv extends TestKv {
  batches: KvOp[][] = []
  failNext = false
  override async batch (ops: KvOp[]): Promise<void> {
    if (this.failNext) { this.failNext = false; throw new Error('disk full') }
    this.batches.push(ops)
    await super.batch(ops)
  }
}

describe('WriteQueue', () => {
  it('groups concurrent items into one batch and each sees earlier writes', async () => {
    const kv = new CountingKv()
    const q = new WriteQueue(kv)
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => q.enqueue(async tx => {
      const prev = await tx.get('counter')
      const n = prev === undefined ? 0 : Number(new TextDecoder().decode(prev))
      tx.put('counter', b(String(n + 1)))
      tx.put(`item!${i}`, b('x'))
      return n + 1
    })))
    expect(results.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    expect(new TextDecoder().decode(await kv.get('counter'))).toBe('50')
    expect(kv.batches.length).toBeLessThan(50)
  })

  it('discards a failing item without affecting the others in its group', async () => {
    const kv = new CountingKv()
    const q = new WriteQueue(kv)
    const undone: string[] = []
    const ok = q.enqueue(async tx => { tx.put('a', b('1')) })
    const bad = q.enqueue(async tx => { tx.put('b', b('1')); tx.undo.push(() => undone.push('b')); throw new Error('nope') })
    const ok2 = q.enqueue(async tx => { tx.put('c', b('1')) })
    await ok
    await expect(bad).rejects.toThrow('nope')
    await ok2
    expect(await kv.get('b')).toBeUndefined()
    expect(await kv.get('a')).toBeDefined()
    expect(await kv.get('c')).toBeDefined()
    expect(undone).toEqual(['b'])
  })

  it('rejects every item of a group whose batch fails, and writes none of it', async () => {
    const kv = new CountingKv()
    const q = new WriteQueue(kv as KvStore)
    kv.failNext = true
    const items = [1, 2, 3].map(i => q.enqueue(async tx => { tx.put(`k${i}`, b('v')) }))
    const settled = await Promise.allSettled(items)
    let failed = 0
    for (const [i, r] of settled.entries()) {
      const stored = await kv.get(`k${i + 1}`) !== undefined
      if (r.status === 'rejected') {
        failed++
        expect(String(r.reason)).toContain('disk full')
        expect(stored).toBe(false)
      } else {
        expect(stored).toBe(true)
      }
    }
    expect(failed).toBeGreaterThan(0)
    await q.enqueue(async tx => { tx.put('after', b('v')) })
    expect(await kv.get('after')).toBeDefined()
  })

  it('runs after-hooks only once the batch is written', async () => {
    const kv = new CountingKv()
    const q = new WriteQueue(kv)
    let seenOnDisk: boolean | undefined
    await q.enqueue(async tx => {
      tx.put('z', b('1'))
      tx.after.push(() => { seenOnDisk = kv.batches.length === 1 })
    })
    expect(seenOnDisk).toBe(true)
  })
})
