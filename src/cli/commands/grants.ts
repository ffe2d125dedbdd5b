/** `hub grants`: every grant with its state. */
import { defined, optional, text } from '../params.js'
import { opt } from '../input.js'
import { page, pageTable } from '../format.js'
import { hubCommand } from '../spec.js'

export const grants = hubCommand({
  name: 'grants',
  group: 'Permissions and sharing',
  summary: 'the grants, with active/expired/revoked state',
  options: [{ flags: '--grantee <did>', description: 'only this grantee\'s' }],
  params: { grantee: optional(text()) },
  input: cli => defined({ grantee: opt(cli.opts.grantee) }),
  run: async ({ hub }, p) => page(hub.permissions.list(p)),
  human: r => pageTable(r, 'grant(s)', [
    ['GRANT', g => g.grantId], ['GRANTEE', g => g.grantee], ['COLLECTION', g => `${g.context} ${g.type}`], ['ALLOW', g => g.allow],
    ['STATE', g => g.revokedAt !== null ? 'revoked' : g.active ? 'active' : 'expired'], ['EXPIRES', g => g.expiresAt]
  ])
})
