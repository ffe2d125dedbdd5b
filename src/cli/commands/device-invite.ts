/** `hub device invite`: a one-time invite for a new device of the owner. */
import { integer, oneOf, optional } from '../params.js'
import { defined } from '../params.js'
import { intOption, network, opt } from '../input.js'
import { hubCommand } from '../spec.js'

export const deviceInvite = hubCommand({
  name: 'device invite',
  group: 'Devices and sync',
  summary: 'a one-time invite for a new device (needs the running hub)',
  description: 'A one-time invite for a new device of this owner, valid for --ttl seconds (default 15 minutes). ' +
    'On the new device: hub init --dir DIR --join <invite>. Needs the running hub ("hub start"), which answers the join.',
  options: [
    { flags: '--ttl <seconds>', description: 'how long the invite is valid (default 900)' },
    { flags: '--role <role>', description: 'owner-device (default) or blind (stores ciphertext only)', choices: ['owner-device', 'blind'] }
  ],
  examples: ['hub device invite --dir ~/hub', 'hub device invite --dir ~/hub --role blind --ttl 300'],
  params: { ttlSeconds: optional(integer({ min: 1, max: 7 * 24 * 3600 })), role: optional(oneOf('owner-device', 'blind')) },
  input: cli => defined({ ttlSeconds: intOption(cli.opts.ttl, '--ttl'), role: opt(cli.opts.role) as 'owner-device' | 'blind' | undefined }),
  run: async (ctx, p) => await network(ctx).createInvite(defined({ ttlMs: p.ttlSeconds !== undefined ? p.ttlSeconds * 1000 : undefined, role: p.role })),
  human: r => `${r.invite}\n(one-time; expires ${r.expiresAt}; on the new device run: hub init --dir DIR --join <invite>)\n`
})
