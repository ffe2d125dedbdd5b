/** A bare protocol client for hub-side tests (the SDK is tested separately). */
import { multiaddr } from '@multiformats/multiaddr'
import { FrameChannel } from '../src/net/channel.js'
import { createHubLibp2p, type HubLibp2p } from '../src/net/node.js'
import { REQUEST_PROTOCOL } from '../src/net/constants.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { signRequest, validateServerMessage, type RequestInterface, type RequestMethod, type ServerMessage } from '../src/request/token.js'

export class RawClient {
  readonly node: HubLibp2p
  readonly ch: FrameChannel
  readonly identity: Ed25519KeyPair
  readonly owner: string
  readonly messages: ServerMessage[] = []
  readonly #waiters = new Map<number, Array<(m: ServerMessage) => void>>()
  readonly #taken = new Set<ServerMessage>()
  #next = 1

  private constructor (node: HubLibp2p, ch: FrameChannel, identity: Ed25519KeyPair, owner: string) {
    this.node = node; this.ch = ch; this.identity = identity; this.owner = owner
    void (async () => {
      for (;;) {
        const m = await ch.receive(validateServerMessage).catch(() => null)
        if (m === null) return
        this.messages.push(m)
        for (const w of [...(this.#waiters.get(m.id) ?? [])]) w(m)
      }
    })()
  }

  static async connect (addr: string, owner: string, identity = Ed25519KeyPair.generate()): Promise<RawClient> {
    const node = await createHubLibp2p(Ed25519KeyPair.generate(), null)
    const stream = await node.dialProtocol(multiaddr(addr), REQUEST_PROTOCOL)
    return new RawClient(node, new FrameChannel(stream, 3 << 20), identity, owner)
  }

  /** The next message for `id` satisfying `pred` (each message is handed out once). */
  async next (id: number, pred: (m: ServerMessage) => boolean = () => true, timeoutMs = 10_000): Promise<ServerMessage> {
    const seen = this.messages.find(m => m.id === id && pred(m) && !this.#taken.has(m))
    if (seen !== undefined) { this.#taken.add(seen); return seen }
    return await new Promise((resolve, reject) => {
      const list = this.#waiters.get(id) ?? []
      const waiter = (m: ServerMessage): void => {
        if (!pred(m) || this.#taken.has(m)) return
        this.#taken.add(m)
        clearTimeout(t)
        list.splice(list.indexOf(waiter), 1) // a resolved waiter must not consume later messages
        resolve(m)
      }
      const t = setTimeout(() => {
        list.splice(list.indexOf(waiter), 1)
        reject(new Error(`no message for request ${id}; got ${JSON.stringify(this.messages.filter(m => m.id === id).map(m => m.t))}`))
      }, timeoutMs)
      list.push(waiter)
      this.#waiters.set(id, list)
    })
  }

  async sendJws (jws: string): Promise<number> {
    const id = this.#next++
    await this.ch.send({ t: 'request', id, jws })
    return id
  }

  /** Sign and send; resolve with the first reply (response or error). */
  async call (iface: RequestInterface, method: RequestMethod, params: Record<string, unknown> = {}, signer = this.identity): Promise<ServerMessage> {
    const id = await this.sendJws(signRequest(signer, this.owner, iface, method, params))
    return await this.next(id, m => m.t === 'response' || m.t === 'error')
  }

  async close (): Promise<void> {
    await this.ch.close().catch(() => {})
    await this.node.stop()
  }
}
