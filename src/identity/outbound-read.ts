/**
 * Reading an outbound answer up to a cap (outbound.ts), counting the bytes
 * that actually arrive: a declared length may lie or be absent. Shared by
 * the Node and the browser fetch (outbound-fetch.ts, outbound-fetch-web.ts).
 */
import { TooLargeError } from '../errors.js'
import { concat } from './encoding.js'

/** The response body, refusing (and cancelling the transfer) past `max` bytes with `too_large`. */
export async function readCapped (res: Response, max: number, what = 'the answer'): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => {})
    throw new TooLargeError(`${what} is larger than ${max} bytes`, { maxBytes: max })
  }
  if (res.body === null) return new Uint8Array()
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel().catch(() => {})
      throw new TooLargeError(`${what} is larger than ${max} bytes`, { maxBytes: max })
    }
    chunks.push(value)
  }
  return concat(...chunks)
}
