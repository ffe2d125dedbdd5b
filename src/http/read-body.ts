/**
 * Reading a request body with a size cap, shared by the hub's HTTP server
 * and the daemon's control channel.
 */
import type { IncomingMessage } from 'node:http'
import { TooLargeError } from '../errors.js'

/**
 * Collect the body up to `max` bytes. A declared or actual size past the cap
 * rejects with `too_large`; the rest of the upload is still drained (not
 * buffered), so the caller can answer 413 on a live connection.
 */
export function readBody (req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > max) {
    req.resume()
    return Promise.reject(new TooLargeError(`the request body exceeds ${max} bytes`))
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    req.on('data', (c: Buffer) => {
      if (over) return
      size += c.length
      if (size > max) {
        over = true
        chunks.length = 0
        reject(new TooLargeError(`the request body exceeds ${max} bytes`))
        return
      }
      chunks.push(c)
    })
    req.on('end', () => { if (!over) resolve(Buffer.concat(chunks)) })
    req.on('error', reject)
  })
}
