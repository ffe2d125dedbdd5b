/**
 * Key files in a browser (the `#client/key-file` seam; see key-file.ts for
 * Node): a page has no file system, so these refuse with `unsupported`.
 * In a browser, make an identity with `Ed25519KeyPair.generate()` and keep
 * its seed (`exportSeed()`) where the app keeps secrets.
 */
import { UnsupportedError } from '../errors.js'
import type { Ed25519KeyPair } from '../identity/keys.js'

function unsupported (): never {
  throw new UnsupportedError('key files need a file system; in a browser use Ed25519KeyPair.generate() or Ed25519KeyPair.fromSeed()')
}

export async function writeKeyFile (_path: string, _key: Ed25519KeyPair): Promise<void> { unsupported() }
export async function createKeyFile (_path: string): Promise<Ed25519KeyPair> { unsupported() }
export async function readKeyFile (_path: string): Promise<Ed25519KeyPair> { unsupported() }
