/**
 * Error codes have one home (src/errors.ts, with their HTTP status in
 * src/error-status.ts): every code has a class and a status, survives the
 * wire both ways, every wire that used to keep its own list maps through
 * it, and the table in protocols/errors.md (and the list in the README)
 * names exactly these codes.
 */
import { readFile } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { ERROR_CLASSES, ERROR_CODES, HubError, InternalError, errorFromWire, isErrorCode, toHubError, type ErrorCode } from '../src/errors.js'
import { httpStatusOf, isErrorCode as isErrorCodeFromStatus } from '../src/error-status.js'
import { remoteError } from '../src/net/channel.js'
import { hubError } from '../src/client/connection.js'
import { errorBody, isErrorCode as isErrorCodeFromDaemon, httpStatusOf as httpStatusOfFromDaemon } from '../src/daemon/protocol.js'
import { errorAnswer } from '../src/http/responses.js'

const ROOT = new URL('../', import.meta.url)
const DETAILS = { reason: 'because', n: 3, nested: { list: [1, 'two', null] } }
const req = (url = '/'): IncomingMessage => ({ url }) as IncomingMessage

/** What a wire carries: the JSON text of the error, parsed back. */
const overTheWire = (err: HubError): { code: string, message: string, details?: unknown } => JSON.parse(JSON.stringify(err))

describe('error codes: one closed list', () => {
  it('has no duplicates, and isErrorCode is that list wherever it is imported from', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length)
    for (const c of ERROR_CODES) {
      expect(isErrorCode(c)).toBe(true)
      expect(isErrorCodeFromStatus(c)).toBe(true)
      expect(isErrorCodeFromDaemon(c)).toBe(true)
    }
    for (const v of ['teapot', '', 'Internal', 'toString', '__proto__', 'hasOwnProperty', 1, null, undefined, {}]) {
      expect(isErrorCode(v)).toBe(false)
      expect(isErrorCodeFromStatus(v)).toBe(false)
    }
    expect(Object.keys(ERROR_CLASSES).sort()).toEqual([...ERROR_CODES].sort())
  })

  it.each(ERROR_CODES.map(c => [c]))('%s has a class and an HTTP status', (code: ErrorCode) => {
    const Cls = ERROR_CLASSES[code]
    const err = new Cls('m')
    expect(err).toBeInstanceOf(HubError)
    expect(err).toBeInstanceOf(Error)
    expect(err.code).toBe(code)
    expect(err.name).toBe(Cls.name)
    // Classes are distinct: no other code's class claims this error.
    for (const other of ERROR_CODES) if (other !== code) expect(err).not.toBeInstanceOf(ERROR_CLASSES[other])
    const status = httpStatusOf(code)
    expect(Number.isInteger(status) && status >= 400 && status <= 599, `${code} → ${status}`).toBe(true)
    expect(httpStatusOfFromDaemon(code)).toBe(status)
  })

  it.each(ERROR_CODES.map(c => [c]))('%s survives the wire: HubError → JSON → errorFromWire', (code: ErrorCode) => {
    const Cls = ERROR_CLASSES[code]
    for (const details of [DETAILS, undefined]) {
      const sent = new Cls(`something ${code} happened`, details)
      const wire = overTheWire(sent)
      expect(wire).toEqual(details === undefined ? { code, message: sent.message } : { code, message: sent.message, details })
      const back = errorFromWire(wire)
      expect(back).toBeInstanceOf(Cls)
      expect(back.constructor).toBe(Cls)
      expect(back.code).toBe(code)
      expect(back.message).toBe(sent.message)
      expect(back.details).toEqual(details)
      expect(JSON.stringify(back)).toBe(JSON.stringify(sent))
    }
    // A plain HubError with the code comes back as the code's class.
    expect(errorFromWire(overTheWire(new HubError(code, 'x')))).toBeInstanceOf(Cls)
  })

  it('an unknown code becomes internal and keeps what it carried as details.hubCode', () => {
    const e = errorFromWire({ code: 'teapot', message: 'short and stout', details: { a: 1 } })
    expect(e).toBeInstanceOf(InternalError)
    expect(e.toJSON()).toEqual({ code: 'internal', message: 'short and stout', details: { a: 1, hubCode: 'teapot' } })
    expect(errorFromWire({ code: '', message: 'm' }).details).toEqual({ hubCode: '' })
  })

  it('details that are not a JSON object are dropped', () => {
    for (const details of ['text', 3, null, [1, 2], true]) {
      expect(errorFromWire({ code: 'not_found', message: 'm', details }).details).toBeUndefined()
    }
  })

  it('toHubError wraps anything else as internal, the cause kept', () => {
    const cause = new TypeError('boom')
    const e = toHubError(cause)
    expect(e).toBeInstanceOf(InternalError)
    expect(e.toJSON()).toEqual({ code: 'internal', message: 'boom' })
    expect(e.cause).toBe(cause)
    const known = new ERROR_CLASSES.conflict('c')
    expect(toHubError(known)).toBe(known)
  })
})

describe('every wire maps through errors.ts', () => {
  it.each(ERROR_CODES.map(c => [c]))('libp2p {t:error} %s: remoteError (net) and hubError (SDK) rebuild its class', (code: ErrorCode) => {
    const frame = { t: 'error', code, message: 'why' }
    const fromPeer = remoteError(frame)
    expect(fromPeer).toBeInstanceOf(ERROR_CLASSES[code])
    expect(fromPeer.toJSON()).toEqual({ code, message: 'peer: why' })
    const fromHub = hubError(frame)
    expect(fromHub).toBeInstanceOf(ERROR_CLASSES[code])
    expect(fromHub.toJSON()).toEqual({ code, message: 'why' })
  })

  it('an unknown code on a libp2p stream is internal (the SDK and net keep the code as details.hubCode)', () => {
    expect(hubError({ code: 'teapot', message: 'm' }).toJSON()).toEqual({ code: 'internal', message: 'm', details: { hubCode: 'teapot' } })
    expect(remoteError({ code: 'teapot', message: 'm' }).toJSON()).toEqual({ code: 'internal', message: 'peer: m', details: { hubCode: 'teapot' } })
  })

  it.each(ERROR_CODES.map(c => [c]))('HTTP problem body and control-channel body for %s keep their bytes', (code: ErrorCode) => {
    const err = new ERROR_CLASSES[code]('msg', { reason: 'r' })
    const answer = errorAnswer(err, req())
    expect(answer.status).toBe(httpStatusOf(code))
    expect(JSON.stringify(answer.body)).toBe(code === 'internal'
      ? `{"error":{"code":"internal","message":"msg"}}`
      : `{"error":{"code":"${code}","message":"msg","details":{"reason":"r"}}}`)
    expect(JSON.stringify(errorAnswer(new ERROR_CLASSES[code]('msg'), req()).body)).toBe(`{"error":{"code":"${code}","message":"msg"}}`)
    expect(JSON.stringify(errorBody(err))).toBe(`{"error":{"code":"${code}","message":"msg"}}`)
    // What a client rebuilds from the HTTP body is the same error (details withheld for internal).
    const back = errorFromWire(JSON.parse(JSON.stringify(answer.body)).error)
    expect(back).toBeInstanceOf(ERROR_CLASSES[code])
    expect(back.details).toEqual(code === 'internal' ? undefined : { reason: 'r' })
  })
})

describe('the documented codes are ErrorCode', () => {
  it('protocols/errors.md: one row per code, in order, with its HTTP status and class', async () => {
    const md = await readFile(new URL('protocols/errors.md', ROOT), 'utf8')
    const rows = md.split('\n')
      .map(line => /^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|\s*`(\w+)`\s*\|/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map(m => ({ code: m[1], status: Number(m[2]), cls: m[3] }))
    expect(rows.map(r => r.code)).toEqual([...ERROR_CODES])
    for (const r of rows) {
      const code = r.code as ErrorCode
      expect(r.status, code).toBe(httpStatusOf(code))
      expect(r.cls, code).toBe(ERROR_CLASSES[code].name)
    }
  })

  it('README: the list of codes in "Errors are HubError subclasses…" is complete', async () => {
    const md = await readFile(new URL('README.md', ROOT), 'utf8')
    const para = /Errors are `HubError` subclasses with a stable `code`:([\s\S]*?)\(/.exec(md)
    expect(para).not.toBeNull()
    const codes = [...(para?.[1] ?? '').matchAll(/`([a-z_]+)`/g)].map(m => m[1])
    expect(codes).toEqual([...ERROR_CODES])
  })
})
