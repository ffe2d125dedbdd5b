/**
 * `hub revoke-preview GRANT_ID`: what revoking a grant would take from its
 * grantee, without revoking it (issue 16: the dashboard's confirmation
 * shows this before it runs `hub revoke`).
 */
import { NotFoundError } from '../../errors.js'
import { text } from '../params.js'
import { arg } from '../input.js'
import { fields } from '../format.js'
import { hubCommand } from '../spec.js'

export const revokePreview = hubCommand({
  name: 'revoke-preview',
  group: 'Permissions and sharing',
  summary: 'what revoking a grant would take from the grantee (nothing is changed)',
  arguments: [{ name: 'GRANT_ID', description: 'from "hub grants"' }],
  params: { grantId: text() },
  input: cli => ({ grantId: arg(cli, 0, 'GRANT_ID') }),
  async run ({ hub }, p) {
    const g = hub.permissions.list().find(x => x.grantId === p.grantId)
    if (g === undefined) throw new NotFoundError(`no grant ${p.grantId}`, { reason: 'unknown_grant' })
    const reads = g.allow[1] === 'R'
    // The same condition Permissions.revoke applies before it rotates the key.
    const rotatesKey = reads && hub.collectionKeys.current(g.context, g.type) !== undefined
    const loses: string[] = []
    if (g.revokedAt !== null) loses.push('nothing: the grant is already revoked')
    else {
      const what = g.objectId !== null ? `object ${g.objectId}` : `the collection ${g.context} ${g.type}`
      const verbs = [...'CRUD'].filter((l, i) => g.allow[i] === l).map(l => ({ C: 'create', R: 'read', U: 'update', D: 'delete' })[l as 'C'])
      loses.push(`${verbs.join(', ')} on ${what}`)
      if (reads) loses.push('every live subscription this grant allows ends at once (permissions_required)')
      if (rotatesKey) loses.push('the collection moves to a new content key: later writes are sealed to a key the grantee never gets (what it already read stays with it)')
    }
    return { grant: g, alreadyRevoked: g.revokedAt !== null, cutsSubscriptions: reads && g.revokedAt === null, rotatesKey: rotatesKey && g.revokedAt === null, loses }
  },
  human: r => fields([['grant', r.grant.grantId], ['grantee', r.grant.grantee], ['collection', `${r.grant.context} ${r.grant.type}`], ['allow', r.grant.allow]]) +
    r.loses.map(l => `  - ${l}\n`).join('') + (r.alreadyRevoked ? '' : `(revoke with: hub revoke ${r.grant.grantId})\n`)
})
