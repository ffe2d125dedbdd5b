/**
 * Loads shared by the resource modules: a participant, its DID record and
 * one key pair, each with the error every operation gives when it is not
 * there. Every operation starts from the participant record, so a bad or
 * unknown participant id fails the same way whichever resource is asked for.
 */
import { HubError, NotFoundError } from '../errors.js'
import type { OrgReader } from './engine.js'
import { checkKeyId, checkParticipantId } from './id-checks.js'
import { orgKeys } from './layout.js'
import type { DidResource, KeyPairResource, ParticipantContext, ParticipantRecord } from './types.js'

/** The participant as callers see it: without its API key hash. */
export function publicOnly (p: ParticipantRecord): ParticipantContext {
  return { participantId: p.participantId, did: p.did, state: p.state, createdAt: p.createdAt, updatedAt: p.updatedAt }
}

export async function loadParticipant (r: OrgReader, pid: string): Promise<ParticipantRecord> {
  const p = await r.json<ParticipantRecord>(orgKeys.participant(checkParticipantId(pid)))
  if (p === undefined) throw new NotFoundError(`no participant context "${pid}"`, { participantId: pid })
  return p
}

/** A participant's DID record: it is written with the participant, so its absence is damage (internal). */
export async function loadDidResource (r: OrgReader, pid: string): Promise<DidResource> {
  const d = await r.json<DidResource>(orgKeys.didResource(pid))
  if (d === undefined) throw new HubError('internal', `participant "${pid}" has no DID record`)
  return d
}

export async function loadKeyPair (r: OrgReader, pid: string, keyId: string): Promise<KeyPairResource> {
  const k = await r.json<KeyPairResource>(orgKeys.keyPair(pid, checkKeyId(keyId)))
  if (k === undefined) throw new NotFoundError(`participant "${pid}" has no key pair "${keyId}"`, { participantId: pid, keyId })
  return k
}
