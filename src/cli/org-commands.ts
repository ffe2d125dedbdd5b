/**
 * CLI mirrors of the Identity API and the token service (`hub participant`,
 * `hub keys`, `hub did show|publish|unpublish`, `hub credentials`, `hub dcp
 * token`, `hub issuance`). Like every handler they run in the daemon when one is running
 * (over the control channel) or in-process otherwise, and call the same
 * OrgStore as the HTTP API, so both behave identically.
 */
import { readFile } from 'node:fs/promises'
import { BadRequestError, NotFoundError } from '../errors.js'
import type { Handler } from '../daemon/daemon.js'
import type { CommandArgs } from '../daemon/protocol.js'
import type { HubNode } from '../net/hub-node.js'
import type { LocalSteps } from './local-steps.js'
import { orgOf, issuanceOf } from '../org/hub-org.js'

function str (v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

function need (a: CommandArgs, option: string, what = option): string {
  const v = str(a.options[option])
  if (v === undefined || v === '') throw new BadRequestError(`missing --${option} ${what.toUpperCase()}`)
  return v
}

function positional (a: CommandArgs, name: string): string {
  const v = a.positionals[0]
  if (v === undefined) throw new BadRequestError(`missing ${name}`)
  return v
}

/** A participant id as the positional (`hub participant activate acme`) or as --participant / --id. */
function participantArg (a: CommandArgs): string {
  const v = a.positionals[0] ?? str(a.options.participant) ?? str(a.options.id)
  if (v === undefined) throw new BadRequestError('missing PARTICIPANT_ID')
  return v
}

function parseJwkText (text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text)
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>
  } catch { /* fall through */ }
  throw new BadRequestError('--public-key must name a file holding a public JWK (JSON object)')
}

/** `--claims '{"level":"gold"}'`: the extra credentialSubject claims of a definition. */
function parseClaims (text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text)
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>
  } catch { /* fall through */ }
  throw new BadRequestError('--claims must be a JSON object, e.g. \'{"level":"gold"}\'')
}

export const orgHandlers: Record<string, Handler<HubNode>> = {
  async 'participant create' ({ hub }, a) {
    const created = await orgOf(hub).createParticipant({
      participantId: need(a, 'id'),
      did: need(a, 'did'),
      active: a.options.active === true,
      ...(str(a.options['key-id']) !== undefined ? { key: { keyId: str(a.options['key-id']) as string } } : {})
    })
    return { ...created.participant, apiKey: created.apiKey, defaultKey: { keyId: created.key.keyId, kid: created.key.kid } }
  },
  async 'participant list' ({ hub }) {
    return await orgOf(hub).listParticipants()
  },
  async 'participant activate' ({ hub }, a) {
    return await orgOf(hub).activateParticipant(participantArg(a))
  },
  async 'participant deactivate' ({ hub }, a) {
    return await orgOf(hub).deactivateParticipant(participantArg(a))
  },
  async 'participant delete' ({ hub }, a) {
    const id = participantArg(a)
    await orgOf(hub).deleteParticipant(id)
    return { participantId: id, deleted: true }
  },
  async 'keys list' ({ hub }, a) {
    return await orgOf(hub).listKeyPairs(need(a, 'participant'))
  },
  async 'keys create' ({ hub }, a) {
    const jwk = str(a.options['public-key-jwk'])
    return await orgOf(hub).createKeyPair(need(a, 'participant'), {
      ...(str(a.options['key-id']) !== undefined ? { keyId: str(a.options['key-id']) as string } : {}),
      ...(jwk !== undefined ? { publicKeyJwk: parseJwkText(jwk) } : {}),
      ...(a.options.activate === true ? { activate: true } : {})
    })
  },
  async 'keys activate' ({ hub }, a) {
    return await orgOf(hub).activateKeyPair(need(a, 'participant'), positional(a, 'KEY_ID'))
  },
  async 'keys rotate' ({ hub }, a) {
    // A rotation without a successor can leave the participant with nothing to sign with, so one is made unless asked not to.
    const successor = a.options['no-successor'] === true ? undefined : { ...(str(a.options.successor) !== undefined ? { keyId: str(a.options.successor) as string } : {}) }
    return await orgOf(hub).rotateKeyPair(need(a, 'participant'), positional(a, 'KEY_ID'), successor)
  },
  async 'keys revoke' ({ hub }, a) {
    return await orgOf(hub).revokeKeyPair(need(a, 'participant'), positional(a, 'KEY_ID'))
  },
  async 'did show' ({ hub }, a) {
    const p = str(a.options.participant)
    return p === undefined ? hub.didDocument() : (await orgOf(hub).getDid(p)).document
  },
  async 'did publish' ({ hub }, a) {
    return await orgOf(hub).publishDid(need(a, 'participant'))
  },
  async 'did add-service' ({ hub }, a) {
    return await orgOf(hub).addService(need(a, 'participant'), { id: need(a, 'id'), type: need(a, 'type'), serviceEndpoint: need(a, 'endpoint', 'url') })
  },
  async 'did remove-service' ({ hub }, a) {
    const id = positional(a, 'SERVICE_ID')
    await orgOf(hub).removeService(need(a, 'participant'), id)
    return { removed: id }
  },
  async 'did unpublish' ({ hub }, a) {
    return await orgOf(hub).unpublishDid(need(a, 'participant'))
  },
  async 'credentials add' ({ hub }, a) {
    const jwt = (a.stdin ?? '').trim()
    if (jwt === '') throw new BadRequestError('missing --jwt FILE (a verifiable credential in JWT form)')
    const [c] = await orgOf(hub).storeCredentials(need(a, 'participant'), [jwt])
    return { credentialId: c?.credentialId, types: c?.types, issuer: c?.issuer }
  },
  async 'credentials list' ({ hub }, a) {
    const list = await orgOf(hub).listCredentials(need(a, 'participant'), str(a.options.type))
    return list.map(({ raw: _raw, ...rest }) => rest)
  },
  async 'credentials request' ({ hub }, a) {
    const defs = a.options.definition
    if (!Array.isArray(defs) || defs.length === 0) throw new BadRequestError('missing --definition DEFINITION_ID (repeat it for several)')
    return await (await issuanceOf(hub)).requestCredentials(need(a, 'participant'), { issuerDid: need(a, 'issuer', 'did'), credentials: defs })
  },
  async 'credentials requests' ({ hub }, a) {
    const p = need(a, 'participant')
    const holderPid = a.positionals[0]
    if (holderPid === undefined) return await orgOf(hub).listHolderRequests(p)
    const r = await orgOf(hub).findHolderRequest(p, holderPid)
    if (r === undefined) throw new NotFoundError(`participant "${p}" has no credential request ${holderPid}`, { holderPid })
    return r
  },
  async 'issuance define' ({ hub }, a) {
    const holders = a.options.holder
    const validity = str(a.options.validity)
    const claims = str(a.options.claims)
    return await orgOf(hub).createDefinition(need(a, 'participant'), {
      id: need(a, 'id'),
      credentialType: need(a, 'type'),
      ...(validity !== undefined ? { validitySeconds: Number(validity) } : {}),
      ...(claims !== undefined ? { claims: parseClaims(claims) } : {}),
      ...(Array.isArray(holders) && holders.length > 0 ? { holders } : {}),
      ...(a.options['status-list'] === true ? { statusList: true } : {})
    })
  },
  async 'issuance list' ({ hub }, a) {
    return await orgOf(hub).listDefinitions(need(a, 'participant'))
  },
  async 'issuance delete' ({ hub }, a) {
    const p = need(a, 'participant')
    const id = positional(a, 'DEFINITION_ID')
    await orgOf(hub).deleteDefinition(p, id)
    return { participantId: p, definitionId: id, deleted: true }
  },
  async 'issuance requests' ({ hub }, a) {
    return await orgOf(hub).listIssuanceRequests(need(a, 'participant'))
  },
  async 'issuance issued' ({ hub }, a) {
    return await orgOf(hub).listIssuedCredentials(need(a, 'participant'))
  },
  async 'issuance revoke' ({ hub }, a) {
    return await orgOf(hub).revokeIssuedCredential(need(a, 'participant'), positional(a, 'CREDENTIAL_ID'))
  },
  async 'dcp token' ({ hub }, a) {
    const { issueTokens } = await import('../org/sts.js')
    const scope = a.options.scope
    const ttl = str(a.options.ttl)
    return await issueTokens(orgOf(hub), {
      participantId: need(a, 'participant'),
      audience: need(a, 'audience', 'did'),
      ...(Array.isArray(scope) && scope.length > 0 ? { scope: scope.flatMap(s => s.split(/\s+/)).filter(s => s !== '') } : {}),
      ...(str(a.options.token) !== undefined ? { token: str(a.options.token) as string } : {}),
      ...(ttl !== undefined ? { ttlS: Number(ttl) } : {})
    })
  }
}

/** A file named by --option: one that cannot be read is the caller's mistake (bad_request), not an internal error. */
async function readOptionFile (option: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new BadRequestError(`cannot read the --${option} file ${path}: ${e.code ?? e.message}`)
  }
}

/** Files named on the command line are read by the CLI process (the daemon may run elsewhere). */
export const ORG_LOCAL_STEPS: Readonly<Record<string, LocalSteps>> = {
  'credentials add': {
    async before (a) {
      a.stdin = await readOptionFile('jwt', need(a, 'jwt', 'file'))
    }
  },
  'keys create': {
    async before (a) {
      const file = str(a.options['public-key'])
      if (file !== undefined) a.options['public-key-jwk'] = await readOptionFile('public-key', file)
    }
  }
}
