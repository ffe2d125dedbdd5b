/**
 * Reading a request body with a size cap, shared by the hub's HTTP server
 * and the daemon's control channel.
 */
import type { IncomingMessage } from 'node:http'
import { BadRequestError, TooLargeError } from '../errors.js'

/**
 * Collect the body up to `max` bytes. A declared or actual size past the cap
 * rejects with `too_large`; the rest of the upload is still drained (not
 * buffered), so the caller can answer 413 on a live connection. A body cut
 * short (the connection closed or timed out) rejects with `bad_request`.
 */
export function readBody (req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > max) {
    req.resume()
    return Promise.reject(new TooLargeError(`the request body exceeds ${max} bytes`))
  }
  const cutShort = (cause?: unknown): BadRequestError => new BadRequestError('the request body was not received completely', undefined, { cause })
  // Aborted while the caller was busy (e.g. checking an API key): its 'error'
  // and 'close' are gone already, and nothing more will ever come.
  if (req.destroyed) return Promise.reject(cutShort())
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
    // The client went away (or timed out) mid-body: its failure, not ours.
    req.on('error', err => { reject(cutShort(err)) })
    req.on('close', () => { reject(cutShort()) }) // after 'end' a no-op
  })
}
