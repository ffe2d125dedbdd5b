/** `hub sync --peer MULTIADDR`: one sync pass with a peer. */
import { BadRequestError } from '../../errors.js'
import { text } from '../params.js'
import { list } from '../input.js'
import { ProgressBar } from '../progress.js'
import { hubCommand } from '../spec.js'

export const syncOnce = hubCommand({
  name: 'sync',
  group: 'Devices and sync',
  summary: 'one sync pass with a peer (progress bar on a terminal)',
  description: 'Pull from a peer until caught up, verifying every commit as live sync does. ' +
    'Without a running daemon a temporary node does the pass. "hub sync status" shows the live state.',
  options: [{ flags: '--peer <multiaddr>', description: 'the peer, ending in /p2p/<peer id> (required)', repeatable: true }],
  examples: ['hub sync --dir ~/phone --peer /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…'],
  params: { peer: text() },
  input (cli) {
    const peers = list(cli.opts.peer)
    if (peers.length !== 1) throw new BadRequestError('hub sync takes exactly one --peer MULTIADDR')
    return { peer: peers[0] as string }
  },
  async run (ctx, p) {
    if (ctx.net !== undefined) return await ctx.net.syncOnce(p.peer)
    // No daemon: a temporary node for this one pass, with a progress bar on a terminal.
    const { startHubNode } = await import('../network.js')
    const node = await startHubNode(ctx.hub, { discoveryIntervalMs: 0 })
    const bar = new ProgressBar()
    try {
      return await node.syncOnce(p.peer, pr => bar.update(pr.watermark, pr.head, 'syncing'))
    } finally {
      bar.done()
      await node.stop()
    }
  },
  human: r => `pulled ${r.received} commit(s) (${r.stored} new) from ${r.peer} in ${r.roundTrips} round trip(s); now at ${r.watermark}/${r.head}\n`
})
