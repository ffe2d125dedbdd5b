/**
 * JSON messages over a libp2p stream, length-prefixed, with a size limit on
 * every frame and schema validation of everything received. Anything that
 * does not parse or validate is a protocol violation: the caller aborts the
 * stream (and usually the connection) and stores nothing from it.
 *
 * Writes go through `lpStream.write`, which waits for the `drain` event
 * correctly. (Stream.onDrain() in @libp2p/utils 7.4 resolves immediately
 * after the first drain, which silently disables backpressure.)
 */
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import type { ValidateFunction } from 'ajv'
import { BadRequestError, HubError, TooLargeError, errorFromWire } from '../errors.js'
import { utf8, utf8d } from '../identity/encoding.js'

export class FrameChannel {
  readonly stream: Stream
  readonly #lp: LengthPrefixedStream<Stream>
  readonly #max: number
  bytesSent = 0
  bytesReceived = 0

  constructor (stream: Stream, maxFrameBytes: number) {
    this.stream = stream
    this.#max = maxFrameBytes
    // Request/response protocols hold at most one unread frame; the buffer
    // limit follows the frame limit instead of the 4 MiB default.
    this.#lp = lpStream(stream, { maxDataLength: maxFrameBytes, maxBufferSize: maxFrameBytes + 16, lengthDecoder: boundedLengthDecoder(maxFrameBytes) })
  }

  /** Send one message. `raw` lets a caller pass pre-serialized JSON text. */
  async send (message: object | { raw: string }, signal?: AbortSignal): Promise<void> {
    const text = 'raw' in message && typeof message.raw === 'string' ? message.raw : JSON.stringify(message)
    const bytes = utf8.encode(text)
    if (bytes.length > this.#max) throw new TooLargeError(`frame of ${bytes.length} bytes exceeds ${this.#max}`)
    this.bytesSent += bytes.length + varintLength(bytes.length)
    await this.#lp.write(bytes, signal !== undefined ? { signal } : {})
  }

  /**
   * Receive and validate one message. Returns null when the remote closed
   * cleanly between messages. Throws `too_large` / `bad_request` for frames
   * that break the limits or the schema.
   */
  async receive<T> (validate: ValidateFunction<T>, signal?: AbortSignal): Promise<T | null> {
    let frame: Uint8Array
    try {
      frame = (await this.#lp.read(signal !== undefined ? { signal } : {})).subarray()
    } catch (err) {
      const name = (err as Error).name
      if (name === 'UnexpectedEOFError') return null
      if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') throw new TooLargeError(`peer sent a frame over ${this.#max} bytes`)
      if (err instanceof TooLargeError) throw err
      throw err
    }
    this.bytesReceived += frame.length + varintLength(frame.length)
    let value: unknown
    try {
      value = JSON.parse(utf8d.decode(frame))
    } catch {
      throw new BadRequestError('peer sent a frame that is not UTF-8 JSON')
    }
    if (!validate(value)) {
      const e = validate.errors?.[0]
      throw new BadRequestError(`peer sent an invalid message: ${e?.instancePath ?? ''} ${e?.message ?? ''}`.trim())
    }
    return value
  }

  /** Tell the peer why (`{t:'error', code, message}`, no details), then reset the stream. */
  async fail (err: HubError): Promise<void> {
    try {
      await this.send({ t: 'error', code: err.code, message: err.message.slice(0, 1024) }, AbortSignal.timeout(1000))
      await this.stream.close({ signal: AbortSignal.timeout(1000) })
    } catch {
      this.stream.abort(err)
    }
  }

  abort (err: Error): void {
    this.stream.abort(err)
  }

  async close (): Promise<void> {
    try {
      await this.stream.close({ signal: AbortSignal.timeout(2000) })
    } catch (err) {
      this.stream.abort(err as Error)
    }
  }
}

/**
 * A varint length decoder that gives up once the prefix is longer than any
 * allowed frame needs. @libp2p/utils' reader retries on every incomplete
 * varint and checks its own length-of-length limit only after a successful
 * decode, so a peer sending endless continuation bytes (0xff…) would be read
 * one byte at a time forever, holding memory and the event loop.
 */
function boundedLengthDecoder (maxFrameBytes: number): (data: { byteLength: number, subarray: () => Uint8Array }) => number {
  const maxLen = varintLength(maxFrameBytes)
  return data => {
    const bytes = data.subarray()
    let value = 0
    for (let i = 0; i < bytes.length; i++) {
      if (i >= maxLen) throw new TooLargeError(`peer sent a frame length prefix longer than ${maxLen} bytes`)
      const b = bytes[i] as number
      value += (b & 0x7f) * 2 ** (7 * i)
      if ((b & 0x80) === 0) return value
    }
    if (bytes.length >= maxLen) throw new TooLargeError(`peer sent a frame length prefix longer than ${maxLen} bytes`)
    throw new RangeError('incomplete varint') // the reader waits for more bytes
  }
}

function varintLength (n: number): number {
  let len = 1
  while (n >= 0x80) { n = Math.floor(n / 0x80); len++ }
  return len
}

/**
 * A peer's `{t:'error'}` reply, turned back into the HubError of its code
 * (errors.ts errorFromWire: an unknown code is `internal`), the message
 * marked as the peer's. The frame carries no details.
 */
export function remoteError (msg: { code: string, message: string }): HubError {
  return errorFromWire({ code: msg.code, message: `peer: ${msg.message}` })
}
