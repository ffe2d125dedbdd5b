/** `hub keys rotate KEY_ID`: destroy a key's private key, keep its public key verifying; a successor takes over. */
import { BadRequestError } from '../../../errors.js'
import { defined, flag, optional, text } from '../../params.js'
import { arg } from '../../input.js'
import { hubCommand } from '../../spec.js'
import { indent } from '../../format.js'
import { GROUP, keyView, need, org, PARTICIPANT } from './shared.js'

export const keysRotate = hubCommand({
  name: 'keys rotate',
  group: GROUP,
  summary: 'destroy a key\'s private key, keep it verifying; a new generated key takes over',
  description: 'Rotate an ACTIVATED key pair: its private key is destroyed and its public key stays a verification method, so what it ' +
    'signed keeps verifying. A successor is generated and activated in the same step (named by --successor, else the next key-N) and ' +
    'inherits the default role, unless --no-successor (which can leave the participant with nothing to sign with).',
  arguments: [{ name: 'KEY_ID', description: 'the key pair to rotate' }],
  options: [
    PARTICIPANT,
    { flags: '--successor <key-id>', description: 'the id of the generated successor' },
    { flags: '--no-successor', description: 'rotate without a successor' }
  ],
  examples: ['hub keys rotate key-1 --participant acme --successor key-3', 'hub keys rotate key-2 --participant acme --no-successor'],
  params: { participantId: text(), keyId: text(), successor: optional(text()), noSuccessor: optional(flag()) },
  input: cli => {
    // commander: --successor K gives "K", --no-successor gives false, neither leaves it undefined.
    const s = cli.opts.successor
    return defined({
      participantId: need(cli, 'participant'),
      keyId: arg(cli, 0, 'KEY_ID'),
      successor: typeof s === 'string' ? s : undefined,
      noSuccessor: s === false ? true : undefined
    })
  },
  async run ({ hub }, p) {
    if (p.noSuccessor === true && p.successor !== undefined) throw new BadRequestError('give either --successor or --no-successor, not both')
    // A rotation without a successor can leave the participant with nothing to sign with, so one is made unless asked not to.
    const successor = p.noSuccessor === true ? undefined : { ...(p.successor !== undefined ? { keyId: p.successor } : {}) }
    return await (await org(hub)).rotateKeyPair(p.participantId, p.keyId, successor)
  },
  human: r => `rotated ${r.rotated.keyId}\n` + indent(keyView(r.rotated)) +
    (r.successor !== undefined ? `successor ${r.successor.keyId}\n` + indent(keyView(r.successor)) : 'no successor: nothing replaces it\n')
})
