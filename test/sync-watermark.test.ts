/**
 * A sync page and the watermark behind it (TenantStore.ingestMany with
 * `watermark`, what pullFrom writes per page): the watermark lands only
 * when every commit of the page was stored, and the pipelined pull
 * (a page checked while the previous one is written) still ends with
 * every commit and the peer's head as watermark.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { parseCommit, verifyCommit, type VerifiedCommit } from '../src/commits/commit.js'
import type { Hub } from '../src/hub.js'
import type { Ed25519KeyPair } from '../src/identity/keys.js'
import { cleanup, playlist, tempHub } from './helpers.js'

afterEach(cleanup)

/** Every commit of `from`'s feed, verified as `to` would verify a sync page. */
async function page (from: Hub, to: Hub): Promise<VerifiedCommit[]> {
  const out: VerifiedCommit[] = []
  for await (const { commitId } of from.store.feed(0)) {
    out.push(await verifyCommit(parseCommit(await from.store.getEnvelope(commitId) as string), async kid => await to.keys.resolveKey(kid)))
  }
  return out
}

describe('a sync page and its watermark', () => {
  it('writes the watermark behind a page whose every commit is stored', async () => {
    const a = await tempHub()
    const b = await tempHub({ init: { ownerKey: a.ownerKey as Ed25519KeyPair } })
    for (let i = 0; i < 5; i++) await a.collections.create(playlist(`p${i}`))
    const commits = await page(a, b)
    const results = await b.store.ingestMany(commits, { watermark: { peer: a.hubDid, seq: 42 } })
    expect(results.map(r => r.status)).toEqual(commits.map(() => 'fulfilled'))
    expect(await b.store.getWatermark(a.hubDid)).toBe(42)
    // Again (every commit a duplicate, still "stored" as far as the page goes): the watermark moves on.
    await b.store.ingestMany(commits, { watermark: { peer: a.hubDid, seq: 43 } })
    expect(await b.store.getWatermark(a.hubDid)).toBe(43)
  })

  it('keeps the watermark where it was when one commit of the page is refused, and stores the others', async () => {
    const a = await tempHub()
    const b = await tempHub({ init: { ownerKey: a.ownerKey as Ed25519KeyPair } })
    const stranger = await tempHub()
    await a.collections.create(playlist('first'))
    const foreign = await stranger.collections.create(playlist('not this owner\'s'))
    await a.collections.create(playlist('last'))
    const own = await page(a, b)
    const bad = (await page(stranger, b)).find(c => c.id === foreign.commitId) as VerifiedCommit
    await b.store.setWatermark(a.hubDid, 7)
    const results = await b.store.ingestMany([own[0] as VerifiedCommit, bad, ...own.slice(1)], { watermark: { peer: a.hubDid, seq: 99 } })
    expect(results.map(r => r.status)).toEqual(['fulfilled', 'rejected', ...own.slice(1).map(() => 'fulfilled')])
    expect(await b.store.getWatermark(a.hubDid)).toBe(7)
    expect(await b.store.getEnvelope(bad.id)).toBeUndefined()
    for (const c of own) expect(await b.store.getEnvelope(c.id)).toBeDefined()
  })
})
