/**
 * A participant's API key: shown once, stored only as its SHA-256 hash in
 * the participant record. The key names its participant (base64url prefix)
 * so the routes that take no admin token can find the record to compare
 * against without scanning.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { AuthenticationError } from '../errors.js'
import { b64u, fromB64u, utf8d } from '../identity/encoding.js'
import type { OrgTransactions } from './engine.js'
import { orgKeys, PARTICIPANT_ID } from './layout.js'
import { loadParticipant, publicOnly } from './records.js'
import type { ParticipantContext, ParticipantRecord } from './types.js'

export function hashApiKey (apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex')
}

/** `<base64url(participantId)>.<43 random chars>`: names its participant, so the admin-less routes can find it. */
export function newApiKey (participantId: string): string {
  return `${b64u(participantId)}.${randomBytes(32).toString('base64url')}`
}

export interface ApiKeysComponents {
  engine: OrgTransactions
}

export class ApiKeys {
  readonly #engine: OrgTransactions

  constructor (components: ApiKeysComponents) {
    this.#engine = components.engine
  }

  /** A new API key; the old one stops working at once. */
  async regenerate (pid: string): Promise<string> {
    const op = 'participant.regenerate-api-key'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      e.step(op, 'api-key')
      const apiKey = newApiKey(p.participantId)
      tx.put(orgKeys.participant(p.participantId), { ...p, apiKeyHash: hashApiKey(apiKey), updatedAt: e.iso() })
      tx.events.push({ type: 'participant.apikey.regenerated', participantId: p.participantId })
      return apiKey
    })
  }

  /**
   * The participant a presented API key belongs to. Constant-time comparison
   * of hashes; every failure is the same `authentication_failed`, so a caller
   * cannot probe which participants exist.
   */
  async authenticate (apiKey: string): Promise<ParticipantContext> {
    const fail = new AuthenticationError('invalid API key')
    const dot = apiKey.indexOf('.')
    if (dot <= 0) throw fail
    let pid: string
    try {
      pid = utf8d.decode(fromB64u(apiKey.slice(0, dot)))
    } catch {
      throw fail
    }
    if (!PARTICIPANT_ID.test(pid)) throw fail
    const p = await this.#engine.json<ParticipantRecord>(orgKeys.participant(pid))
    // Compared even when there is no such participant, so the time taken does not tell.
    const given = Buffer.from(hashApiKey(apiKey), 'hex')
    const stored = Buffer.from(p?.apiKeyHash ?? '0'.repeat(64), 'hex')
    if (!timingSafeEqual(given, stored) || p === undefined) throw fail
    return publicOnly(p)
  }
}
