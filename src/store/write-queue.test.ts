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

  it('writes one op per key a group staged, with its last value: rewrites and moves within a group reach the disk once', async () => {
    const kv = new CountingKv()
    await kv.batch([{ type: 'put', key: 'old-index', value: b('1') }])
    kv.batches = []
    const q = new WriteQueue(kv)
    // Like a sync page of one object's updates: the meta rewritten per item, an index entry moved per item.
    const [one, two, failing, three] = q.enqueueAll([1, 2, 0, 3].map(i => async tx => {
      if (i === 0) { tx.put('meta', b('never')); tx.put('index!9', b('1')); throw new Error('refused') }
      tx.put('meta', b(`v${i}`))
      tx.del(i === 1 ? 'old-index' : `index!${i === 3 ? 2 : 1}`)
      tx.put(`index!${i}`, b('1'))
      tx.put(`commit!${i}`, b('c'))
    }))
    await Promise.all([one, two, three])
    await expect(failing).rejects.toThrow('refused')
    expect(kv.batches).toHaveLength(1)
    const written = kv.batches.flat()
    const keys = written.map(op => op.key)
    expect(new Set(keys).size).toBe(keys.length)
    expect(written.filter(op => op.key === 'meta')).toHaveLength(1)
    expect(new TextDecoder().decode(await kv.get('meta'))).toBe('v3')
    expect(await kv.get('old-index')).toBeUndefined()
    expect(await kv.get('index!1')).toBeUndefined()
    expect(await kv.get('index!2')).toBeUndefined()
    expect(await kv.get('index!3')).toBeDefined()
    expect(await kv.get('index!9')).toBeUndefined()
    for (const i of [1, 2, 3]) expect(await kv.get(`commit!${i}`)).toBeDefined()
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

/** A store whose batches wait until the test lets them through (or fails them). */
class GateKv extends TestKv {
  readonly started: KvOp[][] = []
  readonly #gates: Array<{ release: (fail?: Error) => void }> = []
  #waiters: Array<() => void> = []
  override async batch (ops: KvOp[]): Promise<void> {
    this.started.push(ops)
    for (const w of this.#waiters.splice(0)) w()
    const fail = await new Promise<Error | undefined>(resolve => { this.#gates.push({ release: resolve }) })
    if (fail !== undefined) throw fail
    await super.batch(ops)
  }

  /** Resolves once `n` batches have started. */
  async startedAtLeast (n: number): Promise<void> {
    while (this.started.length < n) await new Promise<void>(resolve => { this.#waiters.push(resolve) })
  }

  /** Let the oldest waiting batch through, or fail it. */
  release (fail?: Error): void {
    const g = this.#gates.shift()
    if (g === undefined) throw new Error('no batch is waiting')
    g.release(fail)
  }
}

const keysOf = (ops: KvOp[]): string[] => ops.map(o => o.key)
const settledNow = async <T>(p: Promise<T>): Promise<'pending' | 'fulfilled' | 'rejected'> => {
  const marker = Symbol('pending')
  const r = await Promise.race([p.then(() => 'fulfilled' as const, () => 'rejected' as const), new Promise<typeof marker>(resolve => setImmediate(() => resolve(marker)))])
  return r === marker ? 'pending' : r
}

describe('WriteQueue pipelining', () => {
  it('runs the next group while the previous batch is written, on top of its unwritten writes, and writes it after', async () => {
    const kv = new GateKv()
    const q = new WriteQueue(kv)
    const a = q.enqueue(async tx => { tx.put('a', b('1')) })
    await kv.startedAtLeast(1)
    let sawA: string | undefined
    const items = ['b', 'c', 'd'].map(k => q.enqueue(async tx => {
      const got = await tx.get('a')
      sawA = got === undefined ? undefined : new TextDecoder().decode(got)
      tx.put(k, b('2'))
    }))
    // Every item ran while batch 1 is still waiting, and saw its write.
    await new Promise(resolve => setImmediate(resolve))
    expect(sawA).toBe('1')
    expect(kv.started.length).toBe(1)
    expect(await settledNow(a)).toBe('pending')
    expect(await settledNow(items[0] as Promise<void>)).toBe('pending')
    kv.release()
    await a
    await kv.startedAtLeast(2)
    // The three items queued during batch 1 went out together, after it.
    expect(kv.started.map(keysOf)).toEqual([['a'], ['b', 'c', 'd']])
    expect(await settledNow(items[0] as Promise<void>)).toBe('pending')
    kv.release()
    await Promise.all(items)
    expect(await kv.get('d')).toBeDefined()
  })

  it('voids the group computed on a batch that fails: newest undone first, both rejected, later items run clean', async () => {
    const kv = new GateKv()
    const q = new WriteQueue(kv)
    const undone: string[] = []
    const a = q.enqueue(async tx => { tx.put('a', b('1')); tx.undo.push(() => undone.push('a')) })
    await kv.startedAtLeast(1)
    const next = q.enqueue(async tx => {
      expect(await tx.get('a')).toBeDefined()
      tx.put('b', b('1'))
      tx.undo.push(() => undone.push('b'))
    })
    await new Promise(resolve => setImmediate(resolve))
    kv.release(new Error('disk full'))
    await expect(a).rejects.toThrow('disk full')
    await expect(next).rejects.toThrow('disk full')
    expect(undone).toEqual(['b', 'a'])
    const later = q.enqueue(async tx => {
      expect(await tx.get('a')).toBeUndefined()
      tx.put('c', b('1'))
    })
    await kv.startedAtLeast(2)
    kv.release()
    await later
    expect(kv.started.map(keysOf)).toEqual([['a'], ['c']])
    expect(await kv.get('a')).toBeUndefined()
    expect(await kv.get('b')).toBeUndefined()
    await q.idle()
  })
})
