/** `hub grant`: let another DID use a collection. */
import { BadRequestError } from '../../errors.js'
import { defined, optional, text } from '../params.js'
import { opt } from '../input.js'
import { hubCommand } from '../spec.js'

export const grant = hubCommand({
  name: 'grant',
  group: 'Permissions and sharing',
  summary: 'let another DID (an app, a person) use a collection',
  description: 'Let another DID use a collection. --allow is the DIF CRUD string: C create, R read, U update, D delete, ' +
    '"-" for none, e.g. -R-- (read only), CR--, CRUD. The grant replicates to every device; on an encrypted collection ' +
    'a read grant also seals the collection\'s key to the grantee.',
  options: [
    { flags: '--grantee <did>', description: 'who is allowed', required: true },
    { flags: '--context <context>', description: 'the collection\'s @context', required: true },
    { flags: '--type <type>', description: 'the collection\'s @type', required: true },
    { flags: '--allow <crud>', description: 'e.g. -R--, CR--, CRUD', required: true },
    { flags: '--object <objectId>', description: 'only this object' },
    { flags: '--expires <rfc3339>', description: 'when the grant ends, e.g. 2027-01-01T00:00:00Z' }
  ],
  examples: ['hub grant --grantee did:key:z6Mk… --context https://schema.org --type MusicPlaylist --allow -R--'],
  params: { grantee: text(), context: text(), type: text(), allow: text(), objectId: optional(text()), expiresAt: optional(text()) },
  input (cli) {
    const allow = opt(cli.opts.allow) as string
    if (!/^[C-][R-][U-][D-]$/.test(allow)) throw new BadRequestError(`--allow must be four letters from CRUD with - for "no", e.g. -R-- or CRUD (got "${allow}")`)
    return defined({
      grantee: opt(cli.opts.grantee) as string,
      context: opt(cli.opts.context) as string,
      type: opt(cli.opts.type) as string,
      allow,
      objectId: opt(cli.opts.object),
      expiresAt: opt(cli.opts.expires)
    })
  },
  run: async ({ hub }, p) => await hub.permissions.grant(p),
  human: r => `granted: ${r.grantId}\n  commit ${r.commitId}\n(revoke with: hub revoke ${r.grantId})\n`
})
