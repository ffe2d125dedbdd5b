/**
 * `npm run demo`: the seed's music playlist across two of one person's hubs.
 * Nothing is mocked: real keys and signatures, a real LevelDB per hub on
 * disk, real libp2p connections over loopback TCP.
 *
 *   1. a laptop hub is created for a new owner DID;
 *   2. a phone hub pairs with it through a one-time invite;
 *   3. the playlist written on the laptop arrives on the phone;
 *   4. both edit it while the phone is offline;
 *   5. they reconnect and merge without losing either edit;
 *   6. the owner grants a playlist app read access, and the app reads the
 *      playlist over libp2p — and nothing else.
 *
 * Each step prints the `hub` commands that do the same by hand (`$ …`).
 * `npm run demo -- --slow` pauses between steps, for reading along.
 */
import '../src/shim.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hub } from '../src/hub.js'
import type { HubNode } from '../src/net/hub-node.js'
import { startHubNode } from '../src/compose.js'
import { joinHub } from '../src/net/pair.js'
import type { JsonObject } from '../src/objects/json.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { HubClient } from '../src/client/index.js'

const PLAYLIST = {
  '@context': 'https://schema.org',
  '@type': 'MusicPlaylist',
  name: 'Classic Rock Playlist',
  numTracks: 1,
  track: [{ '@type': 'MusicRecording', byArtist: 'Lynyrd Skynyrd', duration: 'PT4M45S', inAlbum: 'Second Helping', name: 'Sweet Home Alabama' }]
}
const LISTEN = ['/ip4/127.0.0.1/tcp/0']

const SLOW = process.argv.includes('--slow')
const PAUSE_MS = 2500

async function step (n: number, text: string): Promise<void> {
  if (SLOW && n > 1) await new Promise(resolve => setTimeout(resolve, PAUSE_MS))
  console.log(`\n${n}. ${text}`)
}

/** The same step by hand: the `hub` commands a person would type (README: "Your devices", "Apps and other people"). */
function cmd (...lines: string[]): void {
  const [dim, reset] = process.stdout.isTTY === true ? ['\x1b[2m', '\x1b[0m'] : ['', '']
  for (const l of lines) console.log(`   ${dim}$ ${l}${reset}`)
}

function show (label: string, value: JsonObject | null): void {
  const tracks = (value?.track as Array<{ name: string }> | undefined ?? []).map(t => t.name)
  console.log(`   ${label.padEnd(7)} "${String(value?.name)}" — ${tracks.join(', ')}`)
}

async function until (what: string, fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<number> {
  const t0 = performance.now()
  while (!await fn()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  return performance.now() - t0
}

async function main (): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'identity-hub-demo-'))
  const nodes: HubNode[] = []
  const hubs: Hub[] = []
  const start = async (dir: string): Promise<{ hub: Hub, node: HubNode }> => {
    const hub = await Hub.open(dir)
    const node = await startHubNode(hub, { listen: LISTEN, discoveryIntervalMs: 0, reconnectMinMs: 100 })
    hubs.push(hub); nodes.push(node)
    return { hub, node }
  }
  const stop = async (x: { hub: Hub, node: HubNode }): Promise<void> => {
    await x.node.stop(); await x.hub.close()
    nodes.splice(nodes.indexOf(x.node), 1); hubs.splice(hubs.indexOf(x.hub), 1)
  }
  try {
    await step(1, 'A laptop hub for a new owner')
    cmd('hub init --dir ~/laptop', 'hub start --dir ~/laptop --detach')
    const info = await Hub.init(join(root, 'laptop'))
    const laptop = await start(join(root, 'laptop'))
    console.log(`   owner DID  ${info.did}\n   laptop     ${laptop.node.multiaddrs()[0]}`)

    await step(2, 'The phone pairs with the laptop using a one-time invite')
    cmd('INVITE=$(hub device invite --dir ~/laptop --field invite)', 'hub init --dir ~/phone --join "$INVITE" --name phone', 'hub start --dir ~/phone --detach')
    const { invite } = await laptop.node.createInvite()
    console.log(`   invite     ${invite.slice(0, 48)}…`)
    await joinHub(join(root, 'phone'), invite, { name: 'phone' })
    let phone = await start(join(root, 'phone'))
    console.log(`   phone hub  ${phone.hub.hubDid.slice(0, 32)}… serves owner ${phone.hub.did === info.did ? '✔ same DID' : '✘'}`)

    await step(3, 'Write the playlist on the laptop; it arrives on the phone')
    cmd('ID=$(hub write --dir ~/laptop --field objectId < playlist.json)', 'hub read --dir ~/phone $ID')
    const { objectId } = await laptop.hub.collections.create(PLAYLIST)
    const ms = await until('the playlist on the phone', async () => (await phone.hub.collections.query({ type: 'MusicPlaylist' })).objects.length === 1)
    show('phone', (await phone.hub.collections.read(objectId)).value)
    console.log(`   arrived in ${ms.toFixed(1)} ms`)

    await step(4, 'The phone goes offline; both edit the playlist')
    cmd('hub stop --dir ~/phone', 'hub update --dir ~/laptop $ID < laptop-edit.json', 'hub update --dir ~/phone $ID < phone-edit.json')
    const phoneDir = phone.hub.dir
    await stop(phone)
    await laptop.hub.collections.change(objectId, d => {
      (d.track as unknown[]).push({ '@type': 'MusicRecording', byArtist: 'Lynyrd Skynyrd', name: 'Free Bird' })
      d.numTracks = 2
    })
    const offline = await Hub.open(phoneDir)
    await offline.collections.change(objectId, d => {
      d.name = 'Road Trip Classics'
      ;(d.track as unknown[]).unshift({ '@type': 'MusicRecording', byArtist: 'Boston', name: 'More Than a Feeling' })
    })
    show('laptop', (await laptop.hub.collections.read(objectId)).value)
    show('phone', (await offline.collections.read(objectId)).value)
    await offline.close()

    await step(5, 'The phone comes back; the hubs merge both edits')
    cmd('hub start --dir ~/phone --detach   # same ports as before: the laptop finds it again', 'hub sync status --dir ~/phone')
    phone = await start(phoneDir)
    await until('convergence', async () => {
      const [a, b] = [await laptop.hub.collections.read(objectId), await phone.hub.collections.read(objectId)]
      return JSON.stringify(a.heads) === JSON.stringify(b.heads) && a.heads.length === 2
    })
    const merged = await laptop.hub.collections.read(objectId)
    show('laptop', merged.value)
    show('phone', (await phone.hub.collections.read(objectId)).value)
    console.log(`   heads      ${merged.heads.length} (the two concurrent edits), identical on both hubs`)
    console.log(`   history    ${(await phone.hub.collections.history(objectId)).commits.length} signed commits, each verified`)

    await step(6, 'A playlist app gets read access and reads the playlist over libp2p')
    cmd('hub grant --dir ~/laptop --grantee $APP --context https://schema.org --type MusicPlaylist --allow -R--', 'hub client query --hub $PHONE_ADDR --key app.key --owner $OWNER --type MusicPlaylist', 'hub audit --dir ~/phone')
    const app = Ed25519KeyPair.generate()
    await laptop.hub.collections.create({ '@context': 'https://schema.org', '@type': 'Diary', text: 'not for apps' })
    const { grantId } = await laptop.hub.permissions.grant({ grantee: app.did, context: 'https://schema.org', type: 'MusicPlaylist', allow: '-R--' })
    console.log(`   app DID    ${app.did.slice(0, 32)}…\n   grant      ${grantId} (-R-- on schema.org MusicPlaylist)`)
    await until('the grant on the phone', async () => phone.hub.permissions.list().some(g => g.grantId === grantId))
    const client = await HubClient.connect({ hub: phone.node.multiaddrs()[0] as string, identity: app, owner: info.did })
    try {
      const page = await client.collections.query({ context: 'https://schema.org', type: 'MusicPlaylist' })
      for (const o of page.objects) show('app', o.value as JsonObject)
      const denied = await client.collections.query({ context: 'https://schema.org', type: 'Diary' }).then(() => 'allowed?!', (e: { code?: string }) => e.code)
      console.log(`   the app asks for the diary: ${String(denied)}`)
    } finally {
      await client.close()
    }
    const audit = await phone.hub.audit.list()
    console.log(`   the phone's audit log: ${audit.map(e => `${e.method} ${e.decision}`).join(', ')}`)
    console.log(`
Done. Next steps (README.md):
   • "A five-minute tour of the CLI"        the same story by hand, one command at a time
   • "Your devices: pairing and sync"        real devices on a network, restarts, relays behind NATs
   • "Backup and moving"                     hub backup, hub init --restore, archives
   • "Apps and other people"                 grants, the app SDK (identity-hub/client), the audit log
   • "Encrypted collections and blind cloud hubs"
   • "Organizations"                         participants, did:web, credentials, DCP (npm run example:dataspace)`)
  } finally {
    for (const n of nodes) await n.stop().catch(() => {})
    for (const h of hubs) await h.close().catch(() => {})
    await rm(root, { recursive: true, force: true })
  }
}

await main()
