/** `hub credentials requests [HOLDER_PID]`: the credential requests a participant sent, with their status. */
import { NotFoundError } from '../../../errors.js'
import type { HolderCredentialRequest } from '../../../org/types.js'
import { defined, optional, text } from '../../params.js'
import { fields, page, pageTable, type Page } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, need, org, PARTICIPANT } from './shared.js'

export function holderRequestView (r: HolderCredentialRequest): string {
  return fields([
    ['  holder pid', r.holderPid],
    ['  issuer', r.issuerDid],
    ['  issuer pid', r.issuerPid],
    ['  credentials', r.credentials.join(', ')],
    ['  status', r.status],
    ...(r.reason !== undefined ? [['  reason', r.reason] as const] : []),
    ...(r.credentialIds !== undefined ? [['  stored', r.credentialIds.join(', ')] as const] : []),
    ['  updated', r.updatedAt]
  ])
}

function isPage (r: Page<HolderCredentialRequest> | HolderCredentialRequest): r is Page<HolderCredentialRequest> {
  return 'items' in r
}

export const credentialsRequests = hubCommand({
  name: 'credentials requests',
  group: GROUP,
  summary: 'the credential requests a participant sent, with their status (or one of them)',
  description: 'The credential requests the participant sent to issuers: REQUESTED → RECEIVED → ISSUED | REJECTED (or FAILED). ' +
    'With HOLDER_PID, that one request.',
  arguments: [{ name: 'HOLDER_PID', description: 'one request, by the holder\'s id for it', optional: true }],
  options: [PARTICIPANT],
  examples: ['hub credentials requests --participant acme', 'hub credentials requests 3f0c… --participant acme --json'],
  params: { participantId: text(), holderPid: optional(text()) },
  input: cli => defined({ participantId: need(cli, 'participant'), holderPid: cli.args[0] }),
  async run ({ hub }, p): Promise<Page<HolderCredentialRequest> | HolderCredentialRequest> {
    const o = await org(hub)
    if (p.holderPid === undefined) return page(await o.listHolderRequests(p.participantId))
    const r = await o.findHolderRequest(p.participantId, p.holderPid)
    if (r === undefined) throw new NotFoundError(`participant "${p.participantId}" has no credential request ${p.holderPid}`, { holderPid: p.holderPid })
    return r
  },
  human: r => isPage(r)
    ? pageTable(r, 'request(s)', [
      ['HOLDER PID', q => q.holderPid], ['STATUS', q => q.status], ['CREDENTIALS', q => q.credentials.join(',')],
      ['UPDATED', q => q.updatedAt], ['ISSUER', q => q.issuerDid]
    ])
    : `credential request ${r.holderPid}\n` + holderRequestView(r)
})
