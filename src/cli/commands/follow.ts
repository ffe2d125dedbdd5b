/** `hub follow`: pull what another owner shares with yours. */
import { text, texts } from '../params.js'
import { list, network, opt } from '../input.js'
import { hubCommand } from '../spec.js'

export const follow = hubCommand({
  name: 'follow',
  group: 'Permissions and sharing',
  summary: 'pull what another owner shares with yours, now and after restarts (needs the running hub)',
  options: [
    { flags: '--owner <did>', description: 'the other owner', required: true },
    { flags: '--peer <multiaddr>', description: 'one of their hubs (repeatable)', required: true, repeatable: true }
  ],
  examples: ['hub follow --owner did:key:z6Mk… --peer /ip4/203.0.113.5/tcp/4001/p2p/12D3Koo…'],
  params: { owner: text(), peers: texts() },
  input: cli => ({ owner: opt(cli.opts.owner) as string, peers: list(cli.opts.peer) }),
  async run (ctx, p) {
    await network(ctx).follow(p.owner, p.peers)
    return { following: p.owner, peers: p.peers }
  },
  human: r => `following ${r.following} at ${r.peers.join(' ')}\n(read what they share with: hub shared --owner ${r.following})\n`
})
