/** `hub revoke GRANT_ID`: idempotent. */
import { text } from '../params.js'
import { arg } from '../input.js'
import { hubCommand } from '../spec.js'

export const revoke = hubCommand({
  name: 'revoke',
  group: 'Permissions and sharing',
  summary: 'revoke a grant (encrypted collections move to a new key); revoking twice is harmless',
  arguments: [{ name: 'GRANT_ID', description: 'from "hub grants"' }],
  params: { grantId: text() },
  input: cli => ({ grantId: arg(cli, 0, 'GRANT_ID') }),
  run: async ({ hub }, p) => await hub.permissions.revoke(p.grantId),
  human: r => r.alreadyRevoked ? `grant ${r.grantId} was already revoked (at ${r.revokedAt}); nothing changed\n` : `revoked ${r.grantId}\n  commit ${String(r.commitId)}\n`
})
