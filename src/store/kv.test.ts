import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runKvConformance } from './kv-conformance.js'
import { LevelKv } from './level-kv.js'
import { MemoryKv } from './memory-kv.js'
import { afterAll, describe, expect, it } from 'vitest'

/** Every temp dir this file makes, removed when it is done (the stores are closed by then). */
const dirs: string[] = []
async function tempDb (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kv-'))
  dirs.push(dir)
  return join(dir, 'db')
}
afterAll(async () => { await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) })) })

runKvConformance('MemoryKv', async () => new MemoryKv())
runKvConformance('LevelKv', async () => await LevelKv.open(await tempDb()))

describe('LevelKv', () => {
  it('reports a store locked by another handle as unavailable', async () => {
    const path = await tempDb()
    const a = await LevelKv.open(path)
    await expect(LevelKv.open(path)).rejects.toMatchObject({ code: 'unavailable' })
    await a.close()
  })

  it('keeps data across close and reopen', async () => {
    const path = await tempDb()
    const a = await LevelKv.open(path)
    await a.batch([{ type: 'put', key: 'x', value: new Uint8Array([7]) }])
    await a.close()
    const b = await LevelKv.open(path)
    expect(Array.from(await b.get('x') ?? [])).toEqual([7])
    await b.close()
  })
})
