/** `hub did show`: a participant's DID document, or the owner's did:key document. */
import { defined, optional, text } from '../../params.js'
import { opt } from '../../input.js'
import { hubCommand, type CliInput, type CommandContext, type OptionSpec } from '../../spec.js'
import { GROUP, org } from './shared.js'

/** What `hub did show` and bare `hub did` share. */
export const DID_SHOW_DESCRIPTION = 'A participant\'s did:web DID document as it is (or would be) served, computed from its ACTIVATED ' +
  'and ROTATED keys and its service endpoints. Without --participant: the owner\'s did:key document.'
export const DID_SHOW_OPTIONS: OptionSpec[] = [{ flags: '--participant <id>', description: 'the participant context (default: the owner\'s did:key document)' }]
export const didShowParams = { participantId: optional(text()) }
export const didShowInput = (cli: CliInput): { participantId?: string } => defined({ participantId: opt(cli.opts.participant) })

export async function showDid ({ hub }: CommandContext, p: { participantId?: string }): Promise<unknown> {
  return p.participantId === undefined ? hub.didDocument() : (await (await org(hub)).getDid(p.participantId)).document
}

// The document prints as JSON (the default terminal form): what a resolver gets.
export const didShow = hubCommand({
  name: 'did show',
  group: GROUP,
  summary: 'a participant\'s DID document (without --participant: the owner\'s did:key document)',
  description: DID_SHOW_DESCRIPTION,
  options: DID_SHOW_OPTIONS,
  examples: ['hub did show --participant acme --json', 'hub did show'],
  params: didShowParams,
  input: didShowInput,
  run: showDid
})
