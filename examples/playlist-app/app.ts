/**
 * A small music playlist app (the seed's example) that keeps its data in
 * the user's own hub instead of a server of its own. It holds nothing but
 * its app identity (a key file) and talks to the hub only through
 * HubClient, so it can read and write exactly what the owner granted it.
 *
 *   node dist/examples/playlist-app/app.js <command> [arguments] --hub MULTIADDR --key app.key --owner DID
 *
 *   add-playlist NAME [--description TEXT]      create a schema.org MusicPlaylist
 *   list                                        every playlist, with its tracks
 *   add-track PLAYLIST_ID NAME [--artist A] [--album B] [--duration PT4M45S]
 *                                               append a track (an Automerge list insert: concurrent adds merge)
 *   rename PLAYLIST_ID NAME                     replace the name (the SDK sends only the difference)
 *   delete PLAYLIST_ID                          delete a playlist
 *   watch                                       print the playlists, then every change, until Ctrl-C
 *                                               or until the owner revokes the grant
 *
 * --hub, --key and --owner default to $HUB, $APP_KEY and $OWNER.
 */
import '../../src/shim.js'
import { parseArgs } from 'node:util'
import { HubClient, readKeyFile, type RemoteObject, type SubscriptionEvent } from '../../src/client/index.js'
import { HubError } from '../../src/errors.js'
import type { JsonObject } from '../../src/objects/json.js'

const CONTEXT = 'https://schema.org'
const TYPE = 'MusicPlaylist'

interface Track { '@type': 'MusicRecording', name: string, byArtist?: string, inAlbum?: string, duration?: string }

const USAGE = `usage: playlist-app <add-playlist NAME | list | add-track PLAYLIST_ID NAME | rename PLAYLIST_ID NAME | delete PLAYLIST_ID | watch>
       [--hub MULTIADDR] [--key FILE] [--owner DID]   (defaults: $HUB, $APP_KEY, $OWNER)
       add-playlist: [--description TEXT]; add-track: [--artist A] [--album B] [--duration ISO-8601]`

function tracksOf (value: JsonObject | null): Track[] {
  const t = value?.track
  return Array.isArray(t) ? t as unknown as Track[] : []
}

function show (o: RemoteObject): void {
  const tracks = tracksOf(o.value)
  console.log(`${o.objectId}  "${String(o.value?.name)}"  ${tracks.length} track(s)  (created by ${o.createdBy.slice(0, 20)}…, updated ${o.updatedAt})`)
  for (const [i, t] of tracks.entries()) {
    console.log(`    ${i + 1}. ${t.name}${t.byArtist !== undefined ? ` — ${t.byArtist}` : ''}${t.inAlbum !== undefined ? ` (${t.inAlbum})` : ''}${t.duration !== undefined ? ` ${t.duration}` : ''}`)
  }
}

function arg (positionals: string[], i: number, name: string): string {
  const v = positionals[i]
  if (v === undefined || v === '') throw new HubError('bad_request', `missing ${name}\n${USAGE}`)
  return v
}

async function listAll (client: HubClient): Promise<RemoteObject[]> {
  const out: RemoteObject[] = []
  let cursor: string | undefined
  do {
    const page = await client.collections.query({ context: CONTEXT, type: TYPE, sort: 'created', limit: 100, ...(cursor !== undefined ? { cursor } : {}) })
    out.push(...page.objects)
    cursor = page.cursor ?? undefined
  } while (cursor !== undefined)
  return out
}

async function watch (client: HubClient): Promise<number> {
  const sub = await client.collections.subscribe({ context: CONTEXT, type: TYPE }, (e: SubscriptionEvent) => {
    if (e.kind === 'deleted') console.log(`- deleted ${e.object.objectId}`)
    else { process.stdout.write('* '); show(e.object) }
  })
  console.log(`watching ${sub.initial.length} playlist(s); Ctrl-C to stop`)
  for (const o of sub.initial) show(o)
  const stop = (): void => { void sub.close() }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const lost = client.closed.then(err => ({ code: err?.code ?? 'unavailable', message: err?.message ?? 'connection closed' }))
  const end = await Promise.race([sub.ended, lost])
  process.off('SIGINT', stop)
  process.off('SIGTERM', stop)
  if (end.code === undefined) { console.log('stopped'); return 0 }
  console.log(`the hub ended the subscription: ${end.code}${end.message !== undefined ? ` (${end.message})` : ''}`)
  return 1
}

async function main (): Promise<number> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      hub: { type: 'string', default: process.env.HUB },
      key: { type: 'string', default: process.env.APP_KEY },
      owner: { type: 'string', default: process.env.OWNER },
      description: { type: 'string' },
      artist: { type: 'string' },
      album: { type: 'string' },
      duration: { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  const command = positionals[0]
  if (command === undefined || values.help === true) { console.log(USAGE); return command === undefined ? 1 : 0 }
  if (values.hub === undefined || values.key === undefined || values.owner === undefined) throw new HubError('bad_request', `--hub, --key and --owner are required (or $HUB, $APP_KEY, $OWNER)\n${USAGE}`)

  const identity = await readKeyFile(values.key)
  const client = await HubClient.connect({ hub: values.hub, identity, owner: values.owner })
  try {
    switch (command) {
      case 'add-playlist': {
        const playlist: JsonObject = {
          '@context': CONTEXT,
          '@type': TYPE,
          name: arg(positionals, 1, 'NAME'),
          ...(values.description !== undefined ? { description: values.description } : {}),
          numTracks: 0,
          track: []
        }
        const { objectId } = await client.collections.write(playlist)
        console.log(`created playlist ${objectId}`)
        return 0
      }
      case 'list': {
        const all = await listAll(client)
        for (const o of all) show(o)
        console.log(`${all.length} playlist(s)`)
        return 0
      }
      case 'add-track': {
        const id = arg(positionals, 1, 'PLAYLIST_ID')
        const track: Track = {
          '@type': 'MusicRecording',
          name: arg(positionals, 2, 'NAME'),
          ...(values.artist !== undefined ? { byArtist: values.artist } : {}),
          ...(values.album !== undefined ? { inAlbum: values.album } : {}),
          ...(values.duration !== undefined ? { duration: values.duration } : {})
        }
        // An edit of the Automerge draft: the commit holds one list insert,
        // so a track added concurrently elsewhere is kept when they merge.
        await client.collections.change(id, d => {
          const list = d.track as unknown[]
          list.push(track)
          d.numTracks = list.length
        })
        show(await client.collections.read(id))
        return 0
      }
      case 'rename': {
        const id = arg(positionals, 1, 'PLAYLIST_ID')
        const current = await client.collections.read(id)
        if (current.value === null) throw new HubError('conflict', 'the playlist has no value')
        // Give the whole new value; the SDK computes and signs the minimal change.
        const r = await client.collections.update(id, { ...current.value, name: arg(positionals, 2, 'NAME') })
        console.log(r.changed ? `renamed ${id}` : 'unchanged')
        return 0
      }
      case 'delete': {
        const id = arg(positionals, 1, 'PLAYLIST_ID')
        await client.collections.delete(id)
        console.log(`deleted ${id}`)
        return 0
      }
      case 'watch':
        return await watch(client)
      default:
        throw new HubError('bad_request', `unknown command "${command}"\n${USAGE}`)
    }
  } finally {
    await client.close()
  }
}

try {
  process.exitCode = await main()
} catch (e) {
  const err = e instanceof HubError ? e : new HubError('internal', (e as Error).message)
  console.error(`playlist-app: ${err.message} [${err.code}]`)
  process.exitCode = err.code === 'internal' ? 70 : 1
}
