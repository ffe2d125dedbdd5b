/** `hub peers`: connected peers. */
import { network } from '../input.js'
import { page, pageTable } from '../format.js'
import { hubCommand } from '../spec.js'

export const peers = hubCommand({
  name: 'peers',
  group: 'Devices and sync',
  summary: 'connected peers and whether they are devices of the owner (needs the running hub)',
  params: {},
  input: () => ({}),
  run: async (ctx) => page(network(ctx).peers()),
  human: r => pageTable(r, 'connected peer(s)', [['PEER ID', p => p.peerId], ['DEVICE', p => p.device ?? 'no'], ['ADDRESSES', p => p.addrs.join(' ')]])
})
