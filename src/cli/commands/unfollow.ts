/** `hub unfollow --owner DID`. */
import { text } from '../params.js'
import { network, opt } from '../input.js'
import { hubCommand } from '../spec.js'

export const unfollow = hubCommand({
  name: 'unfollow',
  group: 'Permissions and sharing',
  summary: 'stop following an owner (what was pulled stays readable with "hub shared"; needs the running hub)',
  options: [{ flags: '--owner <did>', description: 'the followed owner', required: true }],
  params: { owner: text() },
  input: cli => ({ owner: opt(cli.opts.owner) as string }),
  run: async (ctx, p) => ({ owner: p.owner, unfollowed: await network(ctx).unfollow(p.owner) }),
  human: r => r.unfollowed ? `no longer following ${r.owner}\n` : `${r.owner} was not followed; nothing changed\n`
})
