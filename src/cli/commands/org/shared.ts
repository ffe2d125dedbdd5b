/**
 * What the organization commands share: the participant option, reading
 * required option values with the messages the CLI has always used, and
 * the terminal forms of the org records.
 */
import { BadRequestError } from '../../../errors.js'
import type { Hub } from '../../../hub.js'
import type { OrgStore } from '../../../org/org-store.js'
import type { IssuanceService } from '../../../org/issuance.js'
import type { KeyPairResource, ParticipantContext } from '../../../org/types.js'
import { fields } from '../../format.js'
import { opt } from '../../input.js'
import type { ArgumentSpec, CliInput, OptionSpec } from '../../spec.js'

export const GROUP = 'Organization identity'

/** `--participant <id>`, required (every command on one participant's records). */
export const PARTICIPANT: OptionSpec = { flags: '--participant <id>', description: 'the participant context', required: true }

/** The participant commands take the id as the positional, or as --participant / --id. */
export const PARTICIPANT_ARG: ArgumentSpec = { name: 'PARTICIPANT_ID', description: 'the participant context (or --participant / --id)', optional: true }
export const PARTICIPANT_ARG_OPTIONS: OptionSpec[] = [
  { flags: '--participant <id>', description: 'the participant context (instead of PARTICIPANT_ID)' },
  { flags: '--id <id>', description: 'the same, as --id' }
]

/** A participant id as the positional (`hub participant activate acme`) or as --participant / --id. */
export function participantArg (cli: CliInput): string {
  const v = cli.args[0] ?? opt(cli.opts.participant) ?? opt(cli.opts.id)
  if (v === undefined) throw new BadRequestError('missing PARTICIPANT_ID')
  return v
}

// One home for required option values: input.ts.
export { need } from '../../input.js'

/** A JSON object, or undefined when `text` is not one. */
export function jsonObject (text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text)
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>
  } catch { /* not JSON */ }
  return undefined
}

export function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

// Loaded when a command runs, not when the CLI starts (most invocations are not org commands).
export async function org (hub: Hub): Promise<OrgStore> {
  const { orgOf } = await import('../../../org/hub-org.js')
  return orgOf(hub)
}

export async function issuance (hub: Hub): Promise<IssuanceService> {
  const { issuanceOf } = await import('../../../org/hub-org.js')
  return await issuanceOf(hub)
}

export function participantView (p: ParticipantContext): string {
  return fields([['participant', p.participantId], ['did', p.did], ['state', p.state], ['created', p.createdAt], ['updated', p.updatedAt]])
}

/** "Ed25519", "P-256", or the key type. */
export function keyType (k: KeyPairResource): string {
  const jwk = k.publicKeyJwk as { kty?: unknown, crv?: unknown }
  return typeof jwk.crv === 'string' ? jwk.crv : String(jwk.kty)
}

export function keyView (k: KeyPairResource): string {
  return fields([
    ['key', k.keyId],
    ['kid', k.kid],
    ['state', k.state],
    ['type', keyType(k)],
    ['default', k.isDefault],
    ['private key', k.hasPrivateKey ? 'held by this hub' : 'not here (public key only)'],
    ...(k.successor !== undefined ? [['successor', k.successor] as const] : [])
  ])
}
