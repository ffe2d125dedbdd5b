/**
 * DID resolution through `did-resolver`, with our own did:key and did:web
 * drivers. did:web uses HTTPS, except for loopback hosts (127.0.0.0/8,
 * localhost, [::1]) where plain HTTP is allowed: a loopback connection cannot
 * be intercepted off-machine, and it is what local dataspaces and tests use.
 * Documents are fetched under the outbound policy (outbound.ts): a did:web
 * host whose address the policy refuses is not connected to at all.
 */
import { Resolver, type DIDResolutionResult, type DIDResolver, type DIDDocument } from 'did-resolver'
import { AuthenticationError } from '../errors.js'
import { didKeyDocument, publicKeyFromDidKey, type DidDocument, type VerificationMethod } from './did-key.js'
import { fromB64u, multibaseDecode, utf8d } from './encoding.js'
import { checkOutboundUrl, createOutboundFetch, isLoopbackHost, readCapped } from './outbound.js'
import { didWebDocumentUrl, DidWebSyntaxError } from './did-web.js'

export interface ResolverOptions {
  /**
   * Injected for tests and embedding; defaults to the outbound policy's
   * fetch (outbound.ts), which connects only to allowed addresses. An
   * injected fetch gets only URLs that passed checkOutboundUrl.
   */
  fetch?: typeof fetch
  /** Milliseconds before a did:web fetch is abandoned. Default 5000. */
  timeoutMs?: number
  /** Allow HTTP for every did:web host, not just loopback. Default false. */
  insecureHttp?: boolean
}

function failure (error: string, message: string): DIDResolutionResult {
  return { didResolutionMetadata: { error, message }, didDocument: null, didDocumentMetadata: {} }
}

const keyDriver: DIDResolver = async (did) => {
  try {
    return { didResolutionMetadata: { contentType: 'application/did+ld+json' }, didDocument: didKeyDocument(did) as DIDDocument, didDocumentMetadata: {} }
  } catch (err) {
    return failure('invalidDid', (err as Error).message)
  }
}

export { isLoopbackHost } from './outbound.js'

/** did:web → document URL, per the did:web method spec (identity/did-web.ts). Throws TypeError for a DID that names none. */
export function didWebUrl (did: string, insecureHttp = false): string {
  try {
    return didWebDocumentUrl(did, { insecureHttp, isLoopbackHost })
  } catch (err) {
    if (err instanceof DidWebSyntaxError) throw new TypeError(`did:web ${err.message}`)
    throw err
  }
}

/** A DID document is a few KiB; a host serving more is refused rather than buffered. */
export const MAX_DID_DOCUMENT_BYTES = 256 * 1024

const DOCUMENT_LISTS = ['verificationMethod', 'authentication', 'assertionMethod', 'keyAgreement', 'capabilityInvocation', 'capabilityDelegation', 'service'] as const

/**
 * What is wrong with the shape of a DID document someone else serves, or
 * undefined: every reader of a document (key lookup, service endpoints)
 * may then iterate its lists without checking again — a document whose
 * `verificationMethod` is a string made credential storage answer 500
 * (test/attacks-dcp.test.ts).
 */
export function documentShapeProblem (doc: unknown): string | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'not a JSON object'
  const d = doc as Record<string, unknown>
  if (typeof d.id !== 'string') return 'id is not a string'
  for (const k of DOCUMENT_LISTS) {
    const v = d[k]
    if (v === undefined) continue
    if (!Array.isArray(v)) return `${k} is not an array`
    for (const e of v) {
      const embedded = typeof e === 'object' && e !== null && !Array.isArray(e) && typeof (e as Record<string, unknown>).id === 'string'
      if (k === 'verificationMethod' || k === 'service' ? !embedded : !(typeof e === 'string' || embedded)) return `${k} has an entry that is neither a reference nor an object with an id`
    }
  }
  return undefined
}

function webDriver (opts: ResolverOptions): DIDResolver {
  const doFetch = opts.fetch ?? createOutboundFetch({ allowInsecureHttp: opts.insecureHttp === true, what: 'did:web document URL' })
  return async (did) => {
    let url: string
    try {
      url = didWebUrl(did, opts.insecureHttp)
    } catch (err) {
      return failure('invalidDid', (err as Error).message)
    }
    try {
      url = checkOutboundUrl(url, 'did:web document URL', undefined, { allowHttp: opts.insecureHttp === true }).href
    } catch (err) {
      return failure('notFound', `did:web resolution refused: ${(err as Error).message}`)
    }
    try {
      const res = await doFetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 5000), redirect: 'error' })
      if (!res.ok) return failure('notFound', `did:web document fetch returned HTTP ${res.status}`)
      const doc = JSON.parse(utf8d.decode(await readCapped(res, MAX_DID_DOCUMENT_BYTES, 'the DID document'))) as DIDDocument
      const shape = documentShapeProblem(doc)
      if (shape !== undefined) return failure('invalidDidDocument', `did:web document is malformed: ${shape}`)
      if (doc.id !== did) return failure('notFound', 'did:web document id does not match the DID')
      return { didResolutionMetadata: { contentType: 'application/did+ld+json' }, didDocument: doc, didDocumentMetadata: {} }
    } catch (err) {
      return failure('notFound', `did:web resolution failed: ${(err as Error).message}`)
    }
  }
}

/**
 * Our did:key and did:web resolution as `did-resolver` drivers, for
 * libraries that take a `Resolver` (did-jwt, did-jwt-vc): they then resolve
 * exactly as the hub does (outbound policy, loopback-only plain HTTP).
 */
export function didResolverDrivers (opts: ResolverOptions = {}): { key: DIDResolver, web: DIDResolver } {
  return { key: keyDriver, web: webDriver(opts) }
}

export function createDidResolver (opts: ResolverOptions = {}): Resolver {
  return new Resolver(didResolverDrivers(opts), { cache: false })
}

/** Extract an Ed25519 public key from a verification method, whatever its encoding. */
export function ed25519KeyFromMethod (vm: VerificationMethod): Uint8Array | undefined {
  if (vm.publicKeyJwk !== undefined) {
    const jwk = vm.publicKeyJwk
    if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && typeof jwk.x === 'string') {
      const x = fromB64u(jwk.x)
      return x.length === 32 ? x : undefined
    }
    return undefined
  }
  if (typeof vm.publicKeyMultibase === 'string') {
    const bytes = multibaseDecode(vm.publicKeyMultibase)
    if (bytes.length === 34 && bytes[0] === 0xed && bytes[1] === 0x01) return bytes.subarray(2)
    if (bytes.length === 32 && vm.type === 'Ed25519VerificationKey2020') return bytes
  }
  return undefined
}

/**
 * Resolves a key id (`did#fragment`) to an Ed25519 public key. did:key is
 * answered without I/O; other methods go through the resolver and must list
 * the key among the document's verification methods.
 */
export class KeyResolver {
  readonly #resolver: Resolver
  constructor (resolver: Resolver = createDidResolver()) {
    this.#resolver = resolver
  }

  async resolveDocument (did: string): Promise<DidDocument> {
    const res = await this.#resolver.resolve(did)
    if (res.didDocument === null) {
      throw new AuthenticationError(`cannot resolve ${did}: ${res.didResolutionMetadata.message ?? res.didResolutionMetadata.error ?? 'unknown error'}`)
    }
    return res.didDocument as unknown as DidDocument
  }

  async resolveKey (kid: string): Promise<Uint8Array> {
    const hash = kid.indexOf('#')
    if (hash < 0) throw new AuthenticationError('key id has no fragment')
    const did = kid.slice(0, hash)
    if (did.startsWith('did:key:')) {
      try {
        const key = publicKeyFromDidKey(did)
        if (kid.slice(hash + 1) !== did.slice('did:key:'.length)) throw new TypeError('fragment does not name the key')
        return key
      } catch (err) {
        throw new AuthenticationError(`invalid did:key key id: ${(err as Error).message}`)
      }
    }
    const doc = await this.resolveDocument(did)
    const fragment = kid.slice(hash)
    const vm = (doc.verificationMethod ?? []).find(m => m.id === kid || m.id === fragment)
    const key = vm === undefined ? undefined : ed25519KeyFromMethod(vm)
    if (key === undefined) throw new AuthenticationError(`no Ed25519 verification method ${kid}`)
    return key
  }
}
