/**
 * Bench page (bench/browser.ts): a hub in this tab, timed from inside the
 * page (performance.now), so the figures are the hub's, not Playwright's
 * round trips. Every function returns plain numbers.
 */
import { hubHome } from '#hub-home'
import { openBrowserHub, type BrowserHub } from '../../../src/browser/index.js'
import { Hub } from '../../../src/hub.js'

const CONTEXT = 'https://schema.org'
let hub: BrowserHub | undefined

function playlist (i: number): Record<string, unknown> {
  return {
    '@context': CONTEXT,
    '@type': 'MusicPlaylist',
    name: `playlist ${i}`,
    position: i,
    numTracks: 1,
    track: [{ '@type': 'MusicRecording', name: 'Sweet Home Alabama', byArtist: 'Lynyrd Skynyrd' }]
  }
}

async function pool (n: number, inFlight: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => { for (let i = next++; i < n; i = next++) await task(i) }
  await Promise.all(Array.from({ length: Math.min(n, inFlight) }, worker))
}

const open = (): BrowserHub => { if (hub === undefined) throw new Error('no hub'); return hub }

const api = {
  /** A founding hub in this tab (no network): `n` creates with `inFlight` in flight; then `queries` timed queries. */
  async creates (name: string, n: number, inFlight: number, queries: number): Promise<{ createsPerS: number, queryMs: number[], sortedQueryMs: number[] }> {
    await Hub.init(hubHome(name))
    hub = await openBrowserHub({ name, network: false })
    const t0 = performance.now()
    await pool(n, inFlight, async i => await open().collections.create(playlist(i)))
    const createsPerS = n / ((performance.now() - t0) / 1000)
    const queryMs: number[] = []
    for (let q = 0; q < queries; q++) {
      const t = performance.now()
      const page = await open().collections.query({ context: CONTEXT, type: 'MusicPlaylist', where: [{ field: 'position', op: 'gte', value: (q * 97) % n }], limit: 50 })
      queryMs.push(performance.now() - t)
      if (page.objects.length === 0) throw new Error('query found nothing')
    }
    // No filter: one sort-index page (50 keys, then their metas), newest first.
    const sortedQueryMs: number[] = []
    for (let q = 0; q < queries; q++) {
      const t = performance.now()
      const page = await open().collections.query({ context: CONTEXT, type: 'MusicPlaylist', limit: 50 })
      sortedQueryMs.push(performance.now() - t)
      if (page.objects.length === 0) throw new Error('query found nothing')
    }
    return { createsPerS, queryMs, sortedQueryMs }
  },

  /** Pair with `invite` (offline), then time the first sync until the inviter's feed `head` is pulled. */
  async coldSync (name: string, invite: string, head: number): Promise<{ ms: number }> {
    hub = await openBrowserHub({ name, invite, network: false, reconnectMinMs: 50 })
    const t0 = performance.now()
    await open().goOnline()
    for (;;) {
      const s = open().syncStatus().find(p => p.connected)
      if (s !== undefined && s.watermark >= head) break
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    return { ms: performance.now() - t0 }
  },

  async close (): Promise<void> { await hub?.close(); hub = undefined },

  /** For test/browser/hub-perf.test.ts: which of `ids` the open hub can read, by name; its hub DID and feed head. */
  async holding (ids: string[]): Promise<{ hubDid: string, seq: number, names: Array<string | undefined> }> {
    const h = open()
    const names = await Promise.all(ids.map(async id => {
      try { return String((await h.collections.read(id)).value?.name) } catch { return undefined }
    }))
    return { hubDid: h.hubDid, seq: h.hub.store.durableSeq, names }
  },

  /** After a reload: open the hub (offline) and time its first query. */
  async firstQuery (name: string): Promise<{ openMs: number, firstQueryMs: number, found: number }> {
    const t0 = performance.now()
    hub = await openBrowserHub({ name, network: false })
    const t1 = performance.now()
    const page = await open().collections.query({ context: CONTEXT, type: 'MusicPlaylist', limit: 50 })
    return { openMs: t1 - t0, firstQueryMs: performance.now() - t1, found: page.objects.length }
  }
}

const w = window as unknown as Record<string, unknown>
w.__bench = api
w.__ready = true
