/** Bare `hub did`: the same as `hub did show`. */
import { hubCommand } from '../../spec.js'
import { GROUP } from './shared.js'
import { DID_SHOW_DESCRIPTION, DID_SHOW_OPTIONS, didShowInput, didShowParams, showDid } from './did-show.js'

export const did = hubCommand({
  name: 'did',
  group: GROUP,
  summary: 'the owner\'s DID document, or a participant\'s with --participant (= hub did show)',
  description: DID_SHOW_DESCRIPTION,
  options: DID_SHOW_OPTIONS,
  examples: ['hub did', 'hub did --participant acme'],
  params: didShowParams,
  input: didShowInput,
  run: showDid
})
