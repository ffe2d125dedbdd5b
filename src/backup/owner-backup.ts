/**
 * The owner backup: what brings an owner back on a new machine when every
 * device is lost — the owner's Ed25519 key and the tenant secret — sealed
 * under a passphrase as a compact JWE (RFC 7516) with PBES2-HS512+A256KW key
 * wrapping (RFC 7518 §4.8) and A256GCM content encryption. A standard format
 * on purpose: any JOSE library (jose, node-jose, python-jose…) can open it
 * with the passphrase, so the backup outlives this program.
 *
 * The iteration count is far above jose's default (2,048) because the
 * passphrase is all that protects an owner key stored on someone's USB
 * stick; decryption accepts no more than MAX_ITERATIONS, so a forged file
 * cannot make `hub init --restore` spin for minutes.
 */
import { CompactEncrypt, compactDecrypt, decodeProtectedHeader } from 'jose'
import { BadRequestError, HubError } from '../errors.js'
import type { Did } from '../ids.js'
import { b64u, fromB64u, utf8, utf8d } from '../identity/encoding.js'
import { Ed25519KeyPair } from '../identity/keys.js'

export const BACKUP_TYPE = 'identity-hub-owner-backup'
export const BACKUP_VERSION = 1
/** PBKDF2-HMAC-SHA512 iterations (OWASP's 2023 advice for SHA-512 is 210,000). */
export const BACKUP_ITERATIONS = 310_000
const MAX_ITERATIONS = 5_000_000
export const MIN_PASSPHRASE_LENGTH = 12
/** A backup is a few hundred bytes; anything much larger is not one. */
export const MAX_BACKUP_BYTES = 64 * 1024

export interface OwnerSecrets {
  ownerDid: Did
  ownerKey: Ed25519KeyPair
  tenantSecret: Uint8Array
}

interface BackupPayload {
  type: typeof BACKUP_TYPE
  version: number
  ownerDid: string
  /** The owner key's 32-byte Ed25519 seed, base64url. */
  ownerKey: string
  tenantSecret: string
  createdAt: string
}

function checkPassphrase (passphrase: string): Uint8Array {
  if ([...passphrase].length < MIN_PASSPHRASE_LENGTH) {
    throw new BadRequestError(`the backup passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters long`)
  }
  return utf8.encode(passphrase.normalize('NFC'))
}

/** Seal the owner's secrets under a passphrase: a compact JWE, one line of ASCII. */
export async function sealOwnerBackup (secrets: OwnerSecrets, passphrase: string, opts: { iterations?: number } = {}): Promise<string> {
  const key = checkPassphrase(passphrase)
  const payload: BackupPayload = {
    type: BACKUP_TYPE,
    version: BACKUP_VERSION,
    ownerDid: secrets.ownerDid,
    ownerKey: b64u(secrets.ownerKey.exportSeed()),
    tenantSecret: b64u(secrets.tenantSecret),
    createdAt: new Date().toISOString()
  }
  return await new CompactEncrypt(utf8.encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'PBES2-HS512+A256KW', enc: 'A256GCM', cty: BACKUP_TYPE })
    // The count goes through the key-management parameters: jose ignores a p2c set in the header.
    .setKeyManagementParameters({ p2c: opts.iterations ?? BACKUP_ITERATIONS })
    .encrypt(key)
}

/**
 * Open a backup. A file that is not one, a wrong passphrase and a payload
 * whose key does not match its DID are all `bad_request`, with nothing
 * restored; the passphrase is never echoed.
 */
export async function openOwnerBackup (text: string, passphrase: string): Promise<OwnerSecrets> {
  const jwe = text.trim()
  if (jwe.length > MAX_BACKUP_BYTES) throw new BadRequestError('this file is too large to be an owner backup')
  let header
  try {
    header = decodeProtectedHeader(jwe)
  } catch {
    throw new BadRequestError('this file is not an owner backup (expected a compact JWE made by "hub backup")')
  }
  if (header.alg !== 'PBES2-HS512+A256KW' || header.enc !== 'A256GCM' || header.cty !== BACKUP_TYPE) {
    throw new BadRequestError('this file is not an owner backup (unexpected JWE header)', { alg: header.alg, enc: header.enc, cty: header.cty })
  }
  let plaintext: Uint8Array
  try {
    ({ plaintext } = await compactDecrypt(jwe, utf8.encode(passphrase.normalize('NFC')), {
      keyManagementAlgorithms: ['PBES2-HS512+A256KW'],
      contentEncryptionAlgorithms: ['A256GCM'],
      maxPBES2Count: MAX_ITERATIONS
    }))
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'ERR_JWE_DECRYPTION_FAILED') throw new BadRequestError('wrong passphrase, or the backup was altered')
    throw new BadRequestError(`cannot open the owner backup: ${(err as Error).message}`)
  }
  let p: Partial<BackupPayload>
  try {
    p = JSON.parse(utf8d.decode(plaintext)) as Partial<BackupPayload>
  } catch {
    throw new BadRequestError('the owner backup decrypts to something that is not JSON')
  }
  if (p.type !== BACKUP_TYPE || p.version !== BACKUP_VERSION || typeof p.ownerDid !== 'string' ||
      typeof p.ownerKey !== 'string' || typeof p.tenantSecret !== 'string') {
    throw new BadRequestError(`unsupported owner backup (type ${String(p.type)}, version ${String(p.version)})`)
  }
  let ownerKey: Ed25519KeyPair
  let tenantSecret: Uint8Array
  try {
    const seed = fromB64u(p.ownerKey)
    tenantSecret = fromB64u(p.tenantSecret)
    if (seed.length !== 32 || tenantSecret.length !== 32) throw new Error('wrong length')
    ownerKey = Ed25519KeyPair.fromSeed(seed)
  } catch (err) {
    throw new BadRequestError(`the owner backup holds a malformed key: ${(err as Error).message}`)
  }
  if (ownerKey.did !== p.ownerDid) {
    throw new HubError('bad_request', 'the owner backup is inconsistent: its key does not belong to its DID', { ownerDid: p.ownerDid })
  }
  return { ownerDid: ownerKey.did, ownerKey, tenantSecret }
}
