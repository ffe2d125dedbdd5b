/**
 * `hub watch --type T`: the owner's side of a live query. It talks to the
 * running daemon of --dir over the request protocol, as the hub itself
 * (its hub key: an owner device acts for the owner on Collections), and
 * prints each change as `hub client watch` does.
 */
import { HubError } from '../../errors.js'
import { findDaemon } from '../../daemon/discovery.js'
import { localCommand, SILENT } from '../spec.js'
import { COLLECTION_OPTIONS, collectionQuery } from './app/shared.js'
import { watch, watchCount } from './app/client-watch.js'

export const watchCommand = localCommand<typeof SILENT>({
  name: 'watch',
  group: 'Collections',
  usesDir: true,
  summary: 'a live query on this hub: one line per change until Ctrl-C (--json: NDJSON; needs the running hub)',
  description: 'Subscribe to one collection\'s changes on the running hub of --dir and print them as they happen: first a line with ' +
    'the current matches ({"kind":"subscribed","initial":[…]} with --json), then one per change ({"kind":"changed"|"deleted","object":…}). ' +
    'Ctrl-C or SIGTERM stops it (exit 0); --count N stops after N changes. Apps watch with "hub client watch".',
  options: [
    ...COLLECTION_OPTIONS,
    { flags: '--count <n>', description: 'stop after this many changes (at least 1)' }
  ],
  examples: ['hub watch --dir ~/hub --type MusicPlaylist', 'hub watch --dir ~/hub --type MusicPlaylist --json --count 1'],
  async run (cli) {
    const q = collectionQuery(cli)
    const count = watchCount(cli)
    const daemon = await findDaemon(cli.dir)
    if (daemon === undefined) throw new HubError('unavailable', `hub watch needs the running hub: start it with "hub start --dir ${cli.dir} --detach"`)
    const addr = daemon.multiaddrs.find(a => a.startsWith('/ip4/127.0.0.1/') && !a.includes('/ws')) ?? daemon.multiaddrs[0]
    if (addr === undefined) throw new HubError('unavailable', 'the running hub has no network address (it was started without one)')
    const [{ HubClient }, { FileKeyStore }] = await Promise.all([import('../../client/index.js'), import('../../identity/keystore.js')])
    const identity = await new FileKeyStore(cli.dir).get('hub')
    return await watch(await HubClient.connect({ hub: addr, identity, owner: daemon.did }), q, count, cli.json)
  }
})
