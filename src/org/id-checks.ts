/**
 * Checks of the ids the organization records are keyed and addressed by.
 * They appear in keys, URLs, DCP messages and CLI arguments, and some are
 * chosen by another party (a holder's holderPid), so each is checked once,
 * here, with the same error wherever it comes in.
 */
import { BadRequestError } from '../errors.js'
import { DEFINITION_ID, KEY_ID, PARTICIPANT_ID } from './layout.js'

/** Definitions one CredentialRequestMessage may name: bounds the work a single request causes. */
export const MAX_REQUESTED_CREDENTIALS = 16
/** Ids chosen by the other side (holderPid) are stored and echoed: bounded. */
const MAX_FOREIGN_ID_LENGTH = 256
/** A credential type name (definitions, issued-credential records). */
export const CREDENTIAL_TYPE = /^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,199}$/

export function checkParticipantId (id: unknown): string {
  if (typeof id !== 'string' || !PARTICIPANT_ID.test(id)) throw new BadRequestError('participantId must be 1–64 characters of A–Z a–z 0–9 . _ - (starting with a letter or digit)')
  return id
}

export function checkKeyId (id: unknown): string {
  if (typeof id !== 'string' || !KEY_ID.test(id)) throw new BadRequestError('keyId must be 1–64 characters of A–Z a–z 0–9 . _ - (starting with a letter or digit)')
  return id
}

export function checkDefinitionId (id: unknown): string {
  if (typeof id !== 'string' || !DEFINITION_ID.test(id)) throw new BadRequestError('a credential definition id must be 1–128 characters of A–Z a–z 0–9 . _ ~ : - (starting with a letter or digit)')
  return id
}

/** An id chosen by the other side (a holderPid): a non-empty, bounded string. */
export function checkForeignId (v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '' || v.length > MAX_FOREIGN_ID_LENGTH) throw new BadRequestError(`${what} must be a non-empty string of at most ${MAX_FOREIGN_ID_LENGTH} characters`)
  return v
}

/** The definition ids of one credential request: 1…16 distinct, bounded strings. */
export function checkRequestedIds (v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_REQUESTED_CREDENTIALS) throw new BadRequestError(`credentials must name 1…${MAX_REQUESTED_CREDENTIALS} credential definitions`)
  const ids = v.map(x => checkForeignId(x, 'each requested credential id'))
  if (new Set(ids).size !== ids.length) throw new BadRequestError('credentials must not name a definition twice')
  return ids
}
