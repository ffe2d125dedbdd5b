/**
 * Delivery of an issuer's CredentialMessage to the holder's Storage API
 * (the CredentialService in its DID document), retrying transient failures
 * a bounded number of times. Delivery is at least once: an attempt whose
 * answer was lost may have stored the credentials, which the holder then
 * answers with 409 on the retry.
 */
import { toHubError } from '../errors.js'
import type { DidDocument } from '../identity/did-key.js'
import { createIdToken } from './dcp/tokens.js'
import type { CredentialMessage } from './dcp/schemas.js'
import { CREDENTIAL_SERVICE, OutboundError, checkServiceEndpoint, endpointUrl, findServiceEndpoint, postDcp, type OutboundOptions } from './issuance-client.js'
import type { JwtSigner } from './jwt.js'

/** Pauses before the 2nd and 3rd delivery attempt. */
export const DEFAULT_RETRY_DELAYS_MS = [250, 1000]

export interface Delivery { delivered: boolean, error?: string }

export interface CredentialDeliveryInit {
  /** Resolves the holder's DID document. */
  resolveDocument: (did: string) => Promise<DidDocument>
  /** Pauses before each retry; its length + 1 is the number of attempts. */
  retryDelaysMs: number[]
  /** Per outbound request, and the signal that aborts it (the service is closing). */
  outbound: () => OutboundOptions & { signal: AbortSignal }
  /** Seconds since the epoch (the ID tokens' iat). */
  nowS: () => number
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>(resolve => {
    const t = setTimeout(done, ms)
    function done (): void {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done)
  })
}

/** Worth another attempt: no answer at all, or an answer that says "later". */
function transient (err: unknown): boolean {
  if (!(err instanceof OutboundError)) return false
  const status = err.details?.status
  return err.details?.reason === 'unreachable' || (typeof status === 'number' && (status >= 500 || status === 429))
}

export class CredentialDelivery {
  readonly #init: CredentialDeliveryInit

  constructor (init: CredentialDeliveryInit) {
    this.#init = init
  }

  /** Send `message` to the holder's Storage API, retrying transient failures. Never throws. */
  async deliver (issuerDid: string, signer: JwtSigner, holderDid: string, message: CredentialMessage): Promise<Delivery> {
    const { resolveDocument, retryDelaysMs, outbound, nowS } = this.#init
    const signal = outbound().signal
    let url: string
    try {
      const doc = await resolveDocument(holderDid)
      const ep = findServiceEndpoint(doc, CREDENTIAL_SERVICE)
      if (ep === undefined) return { delivered: false, error: `${holderDid} lists no ${CREDENTIAL_SERVICE}` }
      url = endpointUrl(checkServiceEndpoint(ep).href, 'credentials')
    } catch (err) {
      return { delivered: false, error: `cannot find the holder's ${CREDENTIAL_SERVICE}: ${toHubError(err).message}` }
    }
    let last = 'not attempted'
    for (let attempt = 0; attempt <= retryDelaysMs.length; attempt++) {
      if (attempt > 0) await sleep(retryDelaysMs[attempt - 1] ?? 0, signal)
      if (signal.aborted) return { delivered: false, error: 'aborted' }
      // A fresh ID token per attempt: the holder accepts each jti once.
      const token = createIdToken(signer, { did: issuerDid, audience: holderDid, now: nowS() })
      try {
        await postDcp(url, message, token, outbound())
        return { delivered: true }
      } catch (err) {
        // 409 on a retry: an earlier attempt whose answer we lost already stored these very credentials.
        if (attempt > 0 && err instanceof OutboundError && err.details?.status === 409) return { delivered: true }
        last = toHubError(err).message
        if (!transient(err)) break
      }
    }
    return { delivered: false, error: last }
  }
}
