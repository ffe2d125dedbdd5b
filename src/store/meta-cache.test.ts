import { describe, expect, it } from 'vitest'
import { MetaCache } from './meta-cache.js'
import type { ObjectMeta } from './tenant-store.js'

const meta = (name: string): ObjectMeta => ({ objectId: 'o', value: { name } } as unknown as ObjectMeta)

describe('MetaCache', () => {
  it('refuses a disk read that started before a newer write was published', () => {
    const c = new MetaCache(10)
    const gen = c.generation // a reader starts and goes to disk…
    c.publish('o', meta('new')) // …meanwhile a write lands
    c.fill('o', meta('old'), gen) // the slow reader returns the old value
    expect(c.get('o')?.value?.name).toBe('new')
  })

  it('serves frozen metas so callers cannot corrupt it, and stays bounded', () => {
    const c = new MetaCache(2)
    c.publish('a', meta('a'))
    expect(() => { (c.get('a')?.value as Record<string, unknown>).name = 'x' }).toThrow(TypeError)
    c.publish('b', meta('b'))
    c.get('a')
    c.publish('c', meta('c'))
    expect(c.size).toBe(2)
    expect(c.get('b')).toBeUndefined() // least recently used
    expect(c.get('a')).toBeDefined()
  })

  it('stays within its byte bound: large metas push out small ones, and one over the bound is not kept', () => {
    const c = new MetaCache(1000, 10_000)
    for (let i = 0; i < 50; i++) c.publish(`s${i}`, meta(`small ${i}`))
    expect(c.size).toBe(50)
    const big = (n: number): ObjectMeta => meta('x'.repeat(n))
    c.publish('b1', big(4_000))
    c.publish('b2', big(4_000))
    expect(c.bytes).toBeLessThanOrEqual(10_000)
    expect(c.get('b1')).toBeDefined()
    expect(c.get('b2')).toBeDefined()
    expect(c.get('s0')).toBeUndefined() // the oldest small ones made room
    expect(c.size).toBeLessThan(50)
    // A meta larger than the whole bound is not cached, and the value it replaces is gone too (no stale read).
    c.publish('b1', big(20_000))
    expect(c.get('b1')).toBeUndefined()
    expect(c.get('b2')).toBeDefined()
    // Even not kept, what a reader got from fill() is frozen.
    const filled = c.fill('b3', big(20_000), c.generation)
    expect(Object.isFrozen(filled.value)).toBe(true)
    c.clear()
    expect(c.bytes).toBe(0)
  })

  it('accounts every replacement and removal (the estimate returns to 0)', () => {
    const c = new MetaCache(3, 1_000_000)
    for (let i = 0; i < 20; i++) c.publish(`o${i % 5}`, meta(`v${i}`.repeat(i + 1)))
    for (let i = 0; i < 5; i++) c.forget(`o${i}`)
    expect(c.size).toBe(0)
    expect(c.bytes).toBe(0)
  })
})
