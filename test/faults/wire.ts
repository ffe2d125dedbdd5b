/**
 * A raw client side of one libp2p stream, for the fault tests: arbitrary
 * bytes out (whatever a hostile peer might send), length-prefixed JSON frames
 * in. It bypasses FrameChannel on purpose, so the hub's own framing and
 * limits are what gets exercised.
 */
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { concat, utf8, utf8d } from '../../src/identity/encoding.js'

/** How long a write may wait for the stream to drain before it counts as refused. */
const DRAIN_MS = 10_000

/** An unsigned LEB128 varint, the length prefix of every frame. */
export function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80) }
  out.push(n)
  return Uint8Array.from(out)
}

/** `body` behind its length prefix. */
export const framed = (body: Uint8Array): Uint8Array => concat(varint(body.length), body)

/**
 * What the hub did next. A frame that is not JSON is still reported (as
 * `{ unparseable: <hex> }`) so a test can fail on it instead of throwing.
 */
export type Next = { t: 'frame', value: Record<string, unknown> } | { t: 'end', reason: string } | { t: 'timeout' }

export class Wire {
  readonly stream: Stream
  readonly #lp: LengthPrefixedStream<Stream>
  #pending: Promise<Next> | undefined
  #end: Next | undefined

  constructor (stream: Stream) {
    this.stream = stream
    // Far above both protocols' limits: the client must never be the side that refuses.
    this.#lp = lpStream(stream, { maxDataLength: 64 << 20, maxBufferSize: 64 << 20 })
  }

  /** True once the stream was seen to end (or was aborted here). */
  get ended (): boolean { return this.#end !== undefined }

  /** Write bytes as they are; false if the stream refused them (closed, reset or no drain in time). */
  async write (bytes: Uint8Array): Promise<boolean> {
    try {
      if (this.stream.send(bytes)) return true
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => { reject(new Error('drain timeout')) }, DRAIN_MS)
        this.stream.addEventListener('drain', () => { clearTimeout(t); resolve() }, { once: true })
        this.stream.addEventListener('close', () => { clearTimeout(t); reject(new Error('closed')) }, { once: true })
      })
      return true
    } catch {
      return false
    }
  }

  /** One well-formed frame: a string as it is, anything else as JSON. */
  async frame (message: unknown): Promise<boolean> {
    return await this.write(framed(utf8.encode(typeof message === 'string' ? message : JSON.stringify(message))))
  }

  /** The next frame from the hub, the end of the stream, or nothing within `ms`. */
  async next (ms = 5000): Promise<Next> {
    if (this.#end !== undefined) return this.#end
    this.#pending ??= this.#lp.read().then(
      (f): Next => {
        const bytes = f.subarray()
        try {
          return { t: 'frame', value: JSON.parse(utf8d.decode(bytes)) as Record<string, unknown> }
        } catch {
          return { t: 'frame', value: { unparseable: Buffer.from(bytes.subarray(0, 200)).toString('hex') } }
        }
      },
      (err: Error): Next => ({ t: 'end', reason: err.name }))
    let timer: NodeJS.Timeout | undefined
    const r = await Promise.race([this.#pending, new Promise<Next>(resolve => { timer = setTimeout(() => { resolve({ t: 'timeout' }) }, ms) })])
    clearTimeout(timer)
    if (r.t === 'frame') this.#pending = undefined
    if (r.t === 'end') this.#end = r
    return r
  }

  /** Drop the stream from this side (idempotent). */
  abort (): void {
    this.#end ??= { t: 'end', reason: 'aborted by the client' }
    if (this.stream.status === 'open' || this.stream.status === 'closing') this.stream.abort(new Error('test client done with this stream'))
  }
}
