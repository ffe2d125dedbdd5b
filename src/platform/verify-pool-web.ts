/**
 * Batch Ed25519 verification in a browser (see verify-pool-node.ts): one at
 * a time through the platform crypto seam — WebCrypto where the browser
 * has Ed25519 (it works off the page's thread), @noble otherwise. A tab
 * has no thread pool to hand signatures to; the verdicts are the same.
 */
import { platformCrypto } from './crypto-web.js'
import type { VerifyItem } from './verify-pool.js'

export type { VerifyItem } from './verify-pool.js'

/** One verdict per item, in order. */
export async function verifyMany (items: readonly VerifyItem[]): Promise<boolean[]> {
  const verify = platformCrypto.ed25519VerifyAsync
  return await Promise.all(items.map(async i => verify === undefined
    ? platformCrypto.ed25519Verify(i.publicKey, i.data, i.signature)
    : await verify.call(platformCrypto, i.publicKey, i.data, i.signature)))
}
