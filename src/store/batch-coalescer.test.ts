import { describe, expect, it } from 'vitest'
import { TestKv } from '../../test/test-kv.js'
import { AuditLog } from './audit.js'
import { BatchCoalescer, coalescerOf } from './batch-coalescer.js'
import type { KvOp } from './kv.js'
import { Layout } from './layout.js'
import { ReplayCache } from './replay-cache.js'

const b = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (u: Uint8Array | undefined): string | undefined => u === undefined ? undefined : new TextDecoder().decode(u)

/** Records every batch; a batch can be held until released, or made to fail. */
class GatedKv extends TestKv {
  batches: KvOp[][] = []
  failNext = false
  #gate: Promise<void> | undefined
  #open: (() => void) | undefined

  hold (): void { this.#gate = new Promise(resolve => { this.#open = resolve }) }
  release (): void { this.#open?.(); this.#gate = undefined }

  override async batch (ops: KvOp[]): Promise<void> {
    this.batches.push(ops)
    if (this.#gate !== undefined) await this.#gate
    if (this.failNext) { this.failNext = false; throw new Error('disk full') }
    await super.batch(ops)
  }
}

describe('BatchCoalescer', () => {
  it('writes concurrent calls in few batches, in call order, each resolved once written', async () => {
    const kv = new GatedKv()
    const c = new BatchCoalescer(kv)
    const writes = Array.from({ length: 20 }, (_, i) => c.write([{ type: 'put', key: `k${i}`, value: b(String(i)) }, { type: 'put', key: 'last', value: b(String(i)) }]))
    await Promise.all(writes)
    // Issued in one turn: one batch holding all of them, in order (the last put of a key wins).
    expect(kv.batches.length).toBe(1)
    expect(kv.batches[0]?.map(op => op.key).filter(k => k !== 'last')).toEqual(Array.from({ length: 20 }, (_, i) => `k${i}`))
    expect(text(await kv.get('last'))).toBe('19')
    expect(text(await kv.get('k7'))).toBe('7')
  })

  it('does not resolve a write before its batch is written; writes made meanwhile go in the next batch', async () => {
    const kv = new GatedKv()
    const c = new BatchCoalescer(kv)
    kv.hold()
    let firstDone = false
    const first = c.write([{ type: 'put', key: 'a', value: b('1') }]).then(() => { firstDone = true })
    await new Promise(resolve => setImmediate(resolve))
    expect(kv.batches.length).toBe(1)
    const later = [c.write([{ type: 'put', key: 'b', value: b('1') }]), c.write([{ type: 'del', key: 'a' }])]
    await new Promise(resolve => setImmediate(resolve))
    expect(firstDone).toBe(false)
    expect(await kv.get('a')).toBeUndefined()
    expect(kv.batches.length).toBe(1) // the later two wait for the first batch
    kv.release()
    await Promise.all([first, ...later])
    expect(kv.batches.map(ops => ops.map(op => `${op.type} ${op.key}`))).toEqual([['put a'], ['put b', 'del a']])
    expect(await kv.get('a')).toBeUndefined()
    expect(text(await kv.get('b'))).toBe('1')
  })

  it('fails every write of a failed batch, writes nothing of it, and goes on with the next', async () => {
    const kv = new GatedKv()
    const c = new BatchCoalescer(kv)
    kv.failNext = true
    const failed = await Promise.allSettled([c.write([{ type: 'put', key: 'x', value: b('1') }]), c.write([{ type: 'put', key: 'y', value: b('1') }])])
    expect(failed.map(r => r.status)).toEqual(['rejected', 'rejected'])
    expect(await kv.get('x')).toBeUndefined()
    expect(await kv.get('y')).toBeUndefined()
    await c.write([{ type: 'put', key: 'z', value: b('1') }])
    expect(text(await kv.get('z'))).toBe('1')
  })

  it('is one per store: the replay cache and the audit log of a store share batches', async () => {
    const kv = new GatedKv()
    expect(coalescerOf(kv)).toBe(coalescerOf(kv))
    const replay = new ReplayCache(kv)
    const audit = new AuditLog(kv, new Layout('t'))
    const exp = Math.floor(Date.now() / 1000) + 60
    // Warm both (the replay cache loads its records, the audit log finds its last seq): reads, no batches.
    expect(await replay.accept('did:key:zA', 'warm', exp)).toBe(true)
    await audit.append({ caller: 'did:key:zA', interface: 'Profile', method: 'read', target: 'profile', decision: 'allowed' })
    kv.batches = []
    const accepted = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      const ok = await replay.accept('did:key:zA', `jti-${i}`, exp)
      await audit.append({ caller: 'did:key:zA', interface: 'Profile', method: 'read', target: `profile ${i}`, decision: 'allowed' })
      return ok
    }))
    expect(accepted.every(ok => ok)).toBe(true)
    expect(kv.batches.length).toBeLessThan(20) // 10 replay records + 10 audit entries, one batch each before
    // Audit entries kept their order: sequence numbers follow the calls.
    const entries = await audit.list()
    expect(entries.map(e => e.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1))
    expect(new Set(entries.slice(1).map(e => e.target)).size).toBe(10)
    // The replay records are on disk: a new cache over the same store refuses the same tokens.
    const reopened = new ReplayCache(kv)
    expect(await reopened.accept('did:key:zA', 'jti-3', exp)).toBe(false)
    expect(await reopened.accept('did:key:zA', 'jti-new', exp)).toBe(true)
  })
})
