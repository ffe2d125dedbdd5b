/**
 * `npm run demo`: the seed's music playlist, end to end, on real hubs in a
 * temporary directory. Nothing here is mocked: real keys, real signatures,
 * real LevelDB on disk.
 */
import '../src/shim.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hub } from '../src/hub.js'

const PLAYLIST = {
  '@context': 'https://schema.org',
  '@type': 'MusicPlaylist',
  name: 'Classic Rock Playlist',
  numTracks: 1,
  track: [{ '@type': 'MusicRecording', byArtist: 'Lynyrd Skynyrd', duration: 'PT4M45S', inAlbum: 'Second Helping', name: 'Sweet Home Alabama' }]
}

function step (text: string): void { console.log(`\n▶ ${text}`) }

async function main (): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'identity-hub-demo-'))
  try {
    step('Create a hub for a new owner DID')
    const info = await Hub.init(join(root, 'laptop'))
    console.log(`  owner DID ${info.did}\n  hub peer  ${info.peerId}`)
    const hub = await Hub.open(join(root, 'laptop'))

    step('Write the playlist (a signed Automerge commit)')
    const { objectId } = await hub.collections.create(PLAYLIST)
    console.log(`  object ${objectId}`)

    step('Add a track by giving the hub the whole new value; it records the minimal change')
    await hub.collections.update(objectId, { ...PLAYLIST, numTracks: 2, track: [...PLAYLIST.track, { '@type': 'MusicRecording', byArtist: 'Lynyrd Skynyrd', name: 'Free Bird' }] })
    const read = await hub.collections.read(objectId)
    console.log(`  ${String(read.value?.name)}: ${(read.value?.track as Array<{ name: string }>).map(t => t.name).join(', ')}`)

    step('Query MusicPlaylists from the index')
    const page = await hub.collections.query({ context: 'https://schema.org', type: 'MusicPlaylist', where: [{ field: 'numTracks', op: 'gte', value: 2 }] })
    console.log(`  ${page.objects.length} playlist(s) with ≥ 2 tracks`)

    step('History: every commit, signature verified')
    for (const c of (await hub.collections.history(objectId)).commits) console.log(`  ${c.operation.padEnd(6)} ${c.commitId} by ${c.signer.slice(0, 24)}…`)

    await hub.close()
    console.log('\nDone.')
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

await main()
