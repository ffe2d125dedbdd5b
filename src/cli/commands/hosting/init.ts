/** `hub hosting init`: create a hosting hub — one identity and address for many owners (docs/hosting.md). */
import { storeLine } from '../init.js'
import { STORE_OPTIONS, storeChoice } from '../store-options.js'
import { fields, indent } from '../../format.js'
import { localCommand } from '../../spec.js'
import { QUOTA_OPTIONS, quotaInput, quotasOf, quotaText } from './quotas.js'
import type { Quotas } from '../../../store/quota-kv.js'

export interface HostingInitResult { hubDid: string, peerId: string, dir: string, store: { engine: string, url?: string, namespace?: string }, defaultQuotas: Quotas }

export const hostingInit = localCommand<HostingInitResult>({
  name: 'hosting init',
  group: 'Hub',
  usesDir: true,
  summary: 'create a hosting hub: one libp2p identity and address serving many owners, blind',
  description: 'Create a hosting hub directory. Owners are added with "hub hosting add-owner --invite" while it runs ("hub start"); ' +
    'each is a blind tenant with its own partition, quotas and audit log. The --max-* options are the quotas of an owner added without any.',
  options: [...STORE_OPTIONS, ...QUOTA_OPTIONS],
  examples: ['hub hosting init --dir ~/host', 'hub hosting init --dir ~/host --store postgres://hub@db/hubs --max-objects 100000 --max-bytes 1000000000 --max-rps 50'],
  async run (cli) {
    const store = await storeChoice(cli.opts)
    const quotas = quotasOf(quotaInput(cli.opts)) ?? {}
    const { Hub } = await import('../../../hub.js')
    const created = await Hub.init(cli.dir, store !== undefined ? { store } : {})
    const { readConfig, writeConfig } = await import('../../../hub-config.js')
    const config = await readConfig(cli.dir)
    await writeConfig(cli.dir, { ...config, hosting: Object.keys(quotas).length > 0 ? { defaultQuotas: quotas } : {} })
    return { hubDid: created.hubDid, peerId: created.peerId, dir: created.dir, store: created.store, defaultQuotas: quotas }
  },
  human: r => 'created a hosting hub\n' + indent(fields([['hub DID', r.hubDid], ['peer id', r.peerId], ['dir', r.dir], ['store', storeLine(r.store)], ['default quotas', quotaText(r.defaultQuotas)]])) +
    `start it with "hub start --dir ${r.dir}", then add owners with "hub hosting add-owner --dir ${r.dir} --invite <invite>"\n`
})
