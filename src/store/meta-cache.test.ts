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
})
