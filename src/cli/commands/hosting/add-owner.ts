/** `hub hosting add-owner --invite …`: host the owner whose device made the invite (`hub device invite --role blind`). */
import { HubError } from '../../../errors.js'
import { hostingOf } from '../../../net/hosting/registry.js'
import { defined, text } from '../../params.js'
import { opt } from '../../input.js'
import { hubCommand } from '../../spec.js'
import { QUOTA_OPTIONS, QUOTA_PARAMS, quotaInput, quotasOf, quotaText } from './quotas.js'
import { checkHosting } from './shared.js'

export const hostingAddOwner = hubCommand({
  name: 'hosting add-owner',
  group: 'Hub',
  summary: 'host the owner whose device made this invite (needs the running hosting hub)',
  description: 'On one of the owner\'s devices: hub device invite --role blind. Here: redeem that invite as a blind device of the owner; ' +
    'from then on the owner\'s devices sync through this hub. Quotas default to those given to "hub hosting init".',
  options: [{ flags: '--invite <invite>', description: 'the owner\'s invite (hub device invite --role blind)', required: true }, ...QUOTA_OPTIONS],
  examples: ['hub hosting add-owner --dir ~/host --invite ihub1_… --max-objects 10000'],
  params: { invite: text({ nonEmpty: true }), ...QUOTA_PARAMS },
  input: cli => defined({ invite: opt(cli.opts.invite) ?? '', ...quotaInput(cli.opts) }),
  async run ({ hub }, p) {
    checkHosting(hub)
    const node = hostingOf(hub)
    if (node === undefined) throw new HubError('unavailable', 'adding an owner needs the running hosting hub: start it with "hub start --dir DIR"')
    const quotas = quotasOf(p)
    const owner = await node.addOwner(p.invite, quotas)
    return owner.record
  },
  human: r => `now hosting ${r.owner} (${quotaText(r.quotas)})\n`
})
