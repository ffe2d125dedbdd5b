/** `hub dcp verify`: the verifier's side of DCP — ask a holder for credentials and check what comes back. */
import { defined, optional, text, texts } from '../../params.js'
import { list, opt } from '../../input.js'
import { hubCommand } from '../../spec.js'
import type { CheckResult } from '../../../org/dcp/verifier.js'
import type { HolderVerification } from '../../../org/dcp/verify-client.js'
import { GROUP, need, org, PARTICIPANT } from './shared.js'

const MARK: Record<CheckResult, string> = { pass: '✔', fail: '✘', skip: '-' }

function human (r: HolderVerification): string {
  const lines: string[] = []
  lines.push(`holder     ${r.holder}`)
  lines.push(`verifier   ${r.verifier}`)
  if (r.endpoint !== undefined) lines.push(`endpoint   ${r.endpoint}`)
  lines.push(`scopes     ${r.scopes.join(' ')}`)
  for (const p of r.problems) lines.push(`✘ ${p.code}: ${p.message}`)
  for (const p of r.presentations) {
    lines.push(`${p.ok ? '✔' : '✘'} presentation ${p.index}${p.dataModel !== undefined ? ` (VCDM ${p.dataModel})` : ''}`)
    for (const x of p.problems) lines.push(`    ✘ ${x.code}: ${x.message}`)
  }
  for (const c of r.credentials) {
    const types = c.types.filter(t => t !== 'VerifiableCredential').join(', ')
    lines.push(`${c.ok ? '✔' : '✘'} credential ${c.id}${types !== '' ? ` [${types}]` : ''}${c.issuer !== undefined ? ` from ${c.issuer}` : ''}`)
    const k = c.checks
    lines.push(`    ${MARK[k.signature]} signature  ${MARK[k.validity]} validity  ${MARK[k.status]} status  ${MARK[k.holderBinding]} holder binding  ${MARK[k.issuerTrust]} issuer trusted`)
    for (const x of c.problems) lines.push(`    ✘ ${x.code}: ${x.message}`)
  }
  for (const m of r.missing) lines.push(`✘ missing: no valid credential for ${m}`)
  if (r.trustedIssuers === undefined && r.credentials.length > 0) lines.push('note: issuers were not checked against a trust list (give --trusted-issuer DID)')
  lines.push(r.ok ? 'VERIFIED' : 'NOT VERIFIED')
  return lines.join('\n')
}

export const dcpVerify = hubCommand({
  name: 'dcp verify',
  group: GROUP,
  summary: 'verifier: query a holder\'s CredentialService for --scope and check every VP and credential',
  description: 'The verifier side of DCP. Finds the holder\'s CredentialService in its DID document, sends a presentation query ' +
    'with the verifier\'s ID token carrying the holder\'s access token (--token: the access token, or the holder\'s ID token ' +
    'carrying it, as handed over in a DSP request; without --token, and only for a holder that is a participant on this hub, ' +
    'the hub grants it itself), then checks each VP (holder\'s signature, audience, lifetime) and each credential (issuer\'s ' +
    'signature, validity window, status lists, subject = holder) and that every scope is matched. Exits 1 unless verified; ' +
    'the report is printed all the same.',
  options: [
    { ...PARTICIPANT, description: 'the verifier participant (signs the query)' },
    { flags: '--holder <did>', description: 'the holder\'s DID (default: the issuer of the ID token given with --token)' },
    { flags: '--scope <scope>', description: 'a scope to ask for, e.g. org.eclipse.dspace.dcp.vc.type:MembershipCredential (repeatable; space-separated also)', repeatable: true, required: true },
    { flags: '--token <token>', description: 'the holder\'s access token, or its ID token carrying one' },
    { flags: '--trusted-issuer <did>', description: 'an issuer whose credentials count (repeatable); without one, issuer trust is not checked', repeatable: true }
  ],
  examples: [
    'hub dcp verify --participant beta --holder did:web:127.0.0.1%3A8080:org:acme --scope org.eclipse.dspace.dcp.vc.type:MembershipCredential',
    'hub dcp verify --participant beta --scope org.eclipse.dspace.dcp.vc.type:MembershipCredential --token HOLDER_ID_TOKEN --json'
  ],
  params: { verifierPid: text(), holderDid: optional(text()), scopes: texts(), token: optional(text()), trustedIssuers: optional(texts()) },
  input: cli => defined({
    verifierPid: need(cli, 'participant'),
    holderDid: opt(cli.opts.holder),
    scopes: list(cli.opts.scope).flatMap(s => s.split(/\s+/)).filter(s => s !== ''),
    token: opt(cli.opts.token),
    trustedIssuers: cli.opts.trustedIssuer === undefined ? undefined : list(cli.opts.trustedIssuer)
  }),
  async run ({ hub }, p) {
    const { verifyHolder } = await import('../../../org/dcp/verify-client.js')
    return await verifyHolder(await org(hub), { ...p, resolveDocument: async did => await hub.resolveDocument(did), replay: hub.dcpReplay })
  },
  after (r) {
    if (!r.ok) process.exitCode = 1
    return r
  },
  human
})
