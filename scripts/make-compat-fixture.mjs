/**
 * Makes test/fixtures/hubs-<rev>.tar.gz for test/store-compat.test.ts: two
 * paired hubs (A, B) written by an OLD build of this repository, and what
 * both answered (expected.json). Run against that build, not this one:
 *
 *   git worktree add /tmp/old <rev> && ln -s "$PWD/node_modules" /tmp/old/node_modules
 *   (cd /tmp/old && npx tsc -p tsconfig.build.json)
 *   node scripts/make-compat-fixture.mjs /tmp/old/dist /tmp/out
 *   tar -czf test/fixtures/hubs-<rev>.tar.gz -C /tmp/out a b expected.json
 */
const dist = process.argv[2]
const out = process.argv[3]
if (dist === undefined || out === undefined) throw new Error('usage: node scripts/make-compat-fixture.mjs <old build dist/> <empty out dir>')
await import(`${dist}/src/shim.js`)
import { writeFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
const { Hub } = await import(`${dist}/src/hub.js`)
const { startHubNode } = await import(`${dist}/src/cli/network.js`)
const { joinHub } = await import(`${dist}/src/net/pair.js`)
const { Ed25519KeyPair } = await import(`${dist}/src/identity/keys.js`)
const A = join(out, 'a'); const B = join(out, 'b')
await Hub.init(A)
const a = await Hub.open(A)
const na = await startHubNode(a, { listen: ['/ip4/127.0.0.1/tcp/0'], discoveryIntervalMs: 0 })
const { invite } = await na.createInvite({})
await joinHub(B, invite, {})
const b = await Hub.open(B)
const nb = await startHubNode(b, { listen: ['/ip4/127.0.0.1/tcp/0'], discoveryIntervalMs: 0, bootstrap: na.multiaddrs() })
const CTX = 'https://schema.org'
await a.collectionKeys.encrypt(CTX, 'DigitalDocument', {})
const ids = []
for (let i = 0; i < 30; i++) {
  const type = ['MusicPlaylist', 'MusicAlbum', 'Person'][i % 3]
  const r = await a.collections.create({ '@context': CTX, '@type': type, name: `old ${type} ${i}`, n: i })
  ids.push(r.objectId)
}
const lww = await a.collections.create({ '@context': CTX, '@type': 'MusicPlaylist', name: 'old lww', n: 100 }, { strategy: 'lww' })
const secret = await a.collections.create({ '@context': CTX, '@type': 'DigitalDocument', name: 'old secret', text: 'only owner devices read this' })
for (let i = 0; i < 10; i++) await a.collections.update(ids[0], { '@context': CTX, '@type': 'MusicPlaylist', name: `old MusicPlaylist 0 v${i}`, n: 0 })
await a.collections.change(ids[3], d => { d.name = 'changed by B?'; d.extra = 'field' })
await a.collections.delete(ids[6])
const app = Ed25519KeyPair.generate()
const g = await a.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: 'CR--' })
// B writes too, so both feeds have local and pulled runs.
const fromB = await b.collections.create({ '@context': CTX, '@type': 'Person', name: 'written on B', n: 200 })
const canon = v => v === null || typeof v !== 'object' ? v : Array.isArray(v) ? v.map(canon) : Object.fromEntries(Object.keys(v).sort().map(k => [k, canon(v[k])]))
const want = async (h) => (await h.collections.query({ limit: 1000 })).objects.map(o => ({ id: o.objectId, value: canon(o.value) })).sort((x, y) => x.id < y.id ? -1 : 1)
const until = Date.now() + 60_000
for (;;) {
  const [wa, wb] = [await want(a), await want(b)]
  if (JSON.stringify(wa) === JSON.stringify(wb) && wa.length === 32) break
  if (Date.now() > until) throw new Error(`did not converge: ${JSON.stringify(wa.filter((x, i) => JSON.stringify(x) !== JSON.stringify(wb[i])))} vs ${JSON.stringify(wb.filter((x, i) => JSON.stringify(x) !== JSON.stringify(wa[i])))}`)
  await sleep(50)
}
const expected = { owner: a.did, hubA: a.hubDid, hubB: b.hubDid, objects: await want(a), ids, lww: lww.objectId, secret: secret.objectId, fromB: fromB.objectId, grant: g.objectId ?? g.id ?? null, app: app.did }
await nb.stop(); await na.stop(); await b.close(); await a.close()
await writeFile(join(out, 'expected.json'), JSON.stringify(expected, null, 1) + '\n')
console.log('ok', expected.objects.length)
