import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runKvConformance } from './kv-conformance.js'
import { LevelKv } from './level-kv.js'
import { MemoryKv } from './memory-kv.js'
import { describe, expect, it } from 'vitest'

runKvConformance('MemoryKv', async () => new MemoryKv())
runKvConformance('LevelKv', async () => await LevelKv.open(join(await mkdtemp(join(tmpdir(), 'kv-')), 'db')))

describe('LevelKv', () => {
  it('reports a store locked by another handle as unavailable', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'kv-')), 'db')
    const a = await LevelKv.open(path)
    await expect(LevelKv.open(path)).rejects.toMatchObject({ code: 'unavailable' })
    await a.close()
  })

  it('keeps data across close and reopen', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'kv-')), 'db')
    const a = await LevelKv.open(path)
    await a.batch([{ type: 'put', key: 'x', value: new Uint8Array([7]) }])
    await a.close()
    const b = await LevelKv.open(path)
    expect(Array.from(await b.get('x') ?? [])).toEqual([7])
    await b.close()
  })
})
