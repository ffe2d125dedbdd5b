/**
 * App identity key files. The format is the hub keystore's
 * (src/identity/keystore.ts): `{"kty":"Ed25519","seed":"<base64url 32 bytes>"}`,
 * mode 0600. Reading also accepts an OKP Ed25519 private JWK or a bare
 * base64url seed (what `hub init --owner-key` takes), so an owner key can
 * be used as a client identity too.
 */
import { randomBytes } from 'node:crypto'
import { chmod, link, readFile, unlink, writeFile } from 'node:fs/promises'
import { AlreadyExistsError, BadRequestError, NotFoundError } from '../errors.js'
import { b64u, fromB64u } from '../identity/encoding.js'
import { Ed25519KeyPair } from '../identity/keys.js'

/** Write `key` to `path` (0600). Never overwrites: an existing file is `already_exists`. */
export async function writeKeyFile (path: string, key: Ed25519KeyPair): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, JSON.stringify({ kty: 'Ed25519', seed: b64u(key.exportSeed()) }) + '\n', { mode: 0o600, flag: 'wx' })
  try {
    await chmod(tmp, 0o600)
    // link() fails if the target exists: atomic, and no overwrite race.
    await link(tmp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExistsError(`${path} already exists; refusing to overwrite a key`)
    throw err
  } finally {
    await unlink(tmp).catch(() => {})
  }
}

/** Create a new identity and write it to `path`. */
export async function createKeyFile (path: string): Promise<Ed25519KeyPair> {
  const key = Ed25519KeyPair.generate()
  await writeKeyFile(path, key)
  return key
}

export async function readKeyFile (path: string): Promise<Ed25519KeyPair> {
  let text: string
  try {
    text = (await readFile(path, 'utf8')).trim()
  } catch {
    throw new NotFoundError(`cannot read the key file ${path}`)
  }
  try {
    if (text.startsWith('{')) {
      const v = JSON.parse(text) as Record<string, unknown>
      if (v.kty === 'Ed25519' && typeof v.seed === 'string') return Ed25519KeyPair.fromSeed(fromB64u(v.seed))
      return Ed25519KeyPair.fromJwk(v)
    }
    return Ed25519KeyPair.fromSeed(fromB64u(text))
  } catch {
    throw new BadRequestError(`${path} must hold {"kty":"Ed25519","seed":…}, an OKP Ed25519 private JWK or a base64url 32-byte seed`)
  }
}
