/**
 * One request stream to a hub, multiplexed by request id.
 *
 * A dial-only libp2p node (TCP + WebSockets, Noise, Yamux, identify; no
 * DHT, no listening, no bootstrap list) with a fresh random libp2p key:
 * that key only encrypts the transport, the app's DID signs every request.
 * The node may dial nobody but the hub named in the multiaddr. One stream
 * on /identity-hub/request/1.0.0 carries every request; replies are matched
 * by `id`. Every frame from the hub is validated against the protocol
 * schema; one that does not validate closes the connection with an error.
 *
 * libp2p is loaded on the first connect, not when this module is imported,
 * so re-exporting the SDK from the package root keeps `import 'identity-hub'`
 * (the embedded store) free of the network stack.
 */
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import type { ValidateFunction } from 'ajv'
import { BadRequestError, HubError, TooLargeError, errorFromWire } from '../errors.js'
import type { FrameChannel } from '../net/channel.js'
import { validateServerMessage, type ServerMessage } from '../request/token.js'
import { clientTransports } from '#platform/transports'
import { MAX_REQUEST_FRAME_BYTES, REQUEST_PROTOCOL } from './constants.js'

/**
 * A hub's `{t:'error'}` as the HubError of its code (errors.ts
 * errorFromWire: an unknown code becomes `internal` with `details.hubCode`).
 */
export function hubError (msg: { code: string, message: string }): HubError {
  return errorFromWire({ code: msg.code, message: msg.message })
}

/**
 * A hub may answer a frame it cannot attribute to a request (one that does
 * not parse, or is too large) with an error that carries no id, then close
 * the stream. It is not a valid server message, but its code is worth more
 * to the caller than "invalid message", so it is recognised before the
 * schema check and ends the connection with that code.
 */
interface StreamError { t: 'error', code: string, message: string, id?: undefined }
type Incoming = ServerMessage | StreamError

function isStreamError (v: unknown): v is StreamError {
  if (typeof v !== 'object' || v === null) return false
  const o = v as Record<string, unknown>
  return o.t === 'error' && o.id === undefined && typeof o.code === 'string' && typeof o.message === 'string' && Object.keys(o).length === 3
}

const validateIncoming: ValidateFunction<Incoming> = Object.assign(
  (data: unknown): data is Incoming => {
    if (isStreamError(data)) { validateIncoming.errors = null; return true }
    const ok = validateServerMessage(data)
    validateIncoming.errors = validateServerMessage.errors ?? null
    return ok
  },
  { errors: null, schema: validateServerMessage.schema, schemaEnv: validateServerMessage.schemaEnv }
)

/** How the connection reports the replies to one request id. */
export interface ReplyHandler {
  response (result: unknown): void
  error (err: HubError): void
  /** Subscriptions only; for a plain request an event is ignored. */
  event? (event: Record<string, unknown>): void
  /** Subscriptions only: the hub ended it, or the connection went away (instead of `error`). */
  end? (code: string | undefined, message: string | undefined): void
}

/** `/p2p/<id>` of a multiaddr (multiaddr 13 has no getPeerId()). */
function peerIdInAddr (ma: Multiaddr): string | null {
  return ma.getComponents().findLast(x => x.name === 'p2p')?.value ?? null
}

export async function parseHubAddr (addr: string): Promise<{ ma: Multiaddr, peerId: string }> {
  const { multiaddr } = await import('@multiformats/multiaddr')
  let ma: Multiaddr
  try {
    ma = multiaddr(addr)
  } catch {
    throw new BadRequestError(`"${addr}" is not a multiaddr`)
  }
  const peerId = peerIdInAddr(ma)
  if (peerId === null) throw new BadRequestError('the hub multiaddr must end with /p2p/<peer id> (see "hub status --json")')
  return { ma, peerId }
}

async function stopQuietly (node: Libp2p): Promise<void> {
  try { await node.stop() } catch { /* stopping anyway */ }
}

export class RequestConnection {
  readonly #node: Libp2p
  readonly #ch: FrameChannel
  readonly #handlers = new Map<number, ReplyHandler>()
  readonly #closed: Promise<HubError | undefined>
  #resolveClosed!: (e: HubError | undefined) => void
  #nextId = 1
  #sending: Promise<void> = Promise.resolve()
  #error: HubError | undefined
  #done = false
  /** The hub's libp2p peer id. */
  readonly hubPeerId: string

  private constructor (node: Libp2p, ch: FrameChannel, hubPeerId: string) {
    this.#node = node
    this.#ch = ch
    this.hubPeerId = hubPeerId
    this.#closed = new Promise(resolve => { this.#resolveClosed = resolve })
    void this.#readLoop()
  }

  static async open (hub: string, timeoutMs: number): Promise<RequestConnection> {
    const { ma, peerId } = await parseHubAddr(hub)
    const only = (peer: PeerId): boolean => peer.toString() !== peerId
    const [{ createLibp2p }, transports, { noise }, { yamux }, { identify }, { FrameChannel }] = await Promise.all([
      import('libp2p'), clientTransports(), import('@chainsafe/libp2p-noise'),
      import('@chainsafe/libp2p-yamux'), import('@libp2p/identify'), import('../net/channel.js')
    ])
    const node = await createLibp2p({
      addresses: { listen: [] },
      transports,
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() },
      // Dial the hub and nothing else; hubs on loopback and private networks are fine.
      connectionGater: {
        denyDialMultiaddr: () => false,
        denyDialPeer: only,
        denyOutboundEncryptedConnection: only,
        denyInboundConnection: () => true
      }
    })
    try {
      const stream = await node.dialProtocol(ma, REQUEST_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) })
      return new RequestConnection(node, new FrameChannel(stream, MAX_REQUEST_FRAME_BYTES), peerId)
    } catch (err) {
      await stopQuietly(node)
      const e = err as Error
      if (e.name === 'UnsupportedProtocolError') throw new HubError('unsupported', `the hub at ${hub} does not serve ${REQUEST_PROTOCOL}`, undefined, { cause: err })
      throw new HubError('unavailable', `cannot reach the hub at ${hub}: ${e.message}`, undefined, { cause: err })
    }
  }

  /** Resolves when the connection is over: `undefined` after close(), else the error that ended it. */
  get closed (): Promise<HubError | undefined> { return this.#closed }
  get isOpen (): boolean { return !this.#done }

  /** Reserve a request id and register who gets its replies. */
  register (handler: ReplyHandler): number {
    this.#assertOpen()
    const id = this.#nextId
    this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1
    this.#handlers.set(id, handler)
    return id
  }

  /** Stop routing replies for `id` (after a timeout or a cancel); late replies are dropped. */
  forget (id: number): void {
    this.#handlers.delete(id)
  }

  async sendRequest (id: number, jws: string): Promise<void> {
    await this.#send({ t: 'request', id, jws })
  }

  async sendCancel (id: number): Promise<void> {
    this.#handlers.delete(id)
    if (this.#done) return
    await this.#send({ t: 'cancel', id })
  }

  /** Frames go out one at a time, each after the previous one drained. */
  async #send (message: object): Promise<void> {
    this.#assertOpen()
    const next = this.#sending.then(async () => {
      this.#assertOpen()
      await this.#ch.send(message, AbortSignal.timeout(30_000))
    })
    this.#sending = next.catch(() => {})
    try {
      await next
    } catch (err) {
      if (err instanceof TooLargeError) throw err
      if (err instanceof HubError) throw err
      const e = new HubError('unavailable', `the connection to the hub failed: ${(err as Error).message}`, undefined, { cause: err })
      this.#shutdown(e)
      throw e
    }
  }

  /** The hub sent something that breaks the protocol above the frame level: give up on it. */
  violation (message: string): void {
    this.#shutdown(new HubError('bad_request', `the hub broke the request protocol: ${message}`))
  }

  #assertOpen (): void {
    if (this.#done) throw this.#error ?? new HubError('unavailable', 'the client is closed')
  }

  async #readLoop (): Promise<void> {
    try {
      for (;;) {
        const msg = await this.#ch.receive(validateIncoming)
        if (msg === null) {
          this.#shutdown(new HubError('unavailable', 'the hub closed the connection'))
          return
        }
        this.#dispatch(msg)
      }
    } catch (err) {
      if (this.#done) return
      if (err instanceof HubError && (err.code === 'bad_request' || err.code === 'too_large')) {
        this.#shutdown(new HubError(err.code, `the hub broke the request protocol: ${err.message}`))
      } else if (err instanceof HubError) {
        this.#shutdown(err)
      } else {
        this.#shutdown(new HubError('unavailable', `the connection to the hub failed: ${(err as Error).message}`, undefined, { cause: err }))
      }
    }
  }

  #dispatch (msg: Incoming): void {
    if (msg.id === undefined) {
      // An error for the stream as a whole: the hub is about to close it.
      this.#shutdown(hubError(msg))
      return
    }
    const h = this.#handlers.get(msg.id)
    if (h === undefined) return // a reply to a request that timed out or was cancelled
    switch (msg.t) {
      case 'response':
        if (h.event === undefined) this.#handlers.delete(msg.id)
        h.response(msg.result)
        return
      case 'error':
        this.#handlers.delete(msg.id)
        h.error(hubError(msg))
        return
      case 'event':
        h.event?.(msg.event)
        return
      case 'end':
        this.#handlers.delete(msg.id)
        if (h.end !== undefined) h.end(msg.code, msg.message)
        else h.error(new HubError('bad_request', 'the hub ended a request that is not a subscription'))
    }
  }

  /** Fail every open request and subscription, then tear the transport down. */
  #shutdown (err: HubError | undefined): void {
    if (this.#done) return
    this.#done = true
    this.#error = err ?? new HubError('unavailable', 'the client is closed')
    const handlers = [...this.#handlers.values()]
    this.#handlers.clear()
    for (const h of handlers) {
      if (h.end !== undefined) h.end(this.#error.code, this.#error.message)
      else h.error(this.#error)
    }
    this.#resolveClosed(err)
    void this.#teardown(err)
  }

  #stopped: Promise<void> | undefined
  async #teardown (err: HubError | undefined): Promise<void> {
    this.#stopped ??= (async () => {
      if (err === undefined) await this.#ch.close()
      else this.#ch.abort(err)
      await stopQuietly(this.#node)
    })()
    await this.#stopped
  }

  /** Close the stream and stop the node. Open requests fail with `unavailable`. */
  async close (): Promise<void> {
    this.#shutdown(undefined)
    await this.#teardown(undefined)
  }
}
