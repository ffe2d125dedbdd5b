/**
 * The batch signature-verification seam (`#platform/verify-pool`): Node
 * checks a batch on its thread pool (verify-pool-node.ts), a browser one by
 * one through WebCrypto or @noble (verify-pool-web.ts). Both give exactly
 * the verdict of `platformCrypto.ed25519Verify` for every item.
 */

/** One Ed25519 signature to check: raw 32-byte public key, signed bytes, 64-byte signature. */
export interface VerifyItem {
  publicKey: Uint8Array
  data: Uint8Array
  signature: Uint8Array
}
