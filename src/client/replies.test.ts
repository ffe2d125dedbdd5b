import { describe, expect, it } from 'vitest'
import type { ClientQuery } from './types.js'
import { errorFromWire } from '../errors.js'
import { asGrantResult, asPage, asRemoteObject, objectIdParam, queryParams } from './replies.js'

const view = { objectId: 'b' + 'a'.repeat(58), heads: ['bx'], strategy: 'lww', value: { '@type': 'T' } }

describe('reply checks', () => {
  it('accept the shapes the SDK relies on', () => {
    expect(asRemoteObject(view)).toBe(view)
    expect(asPage({ objects: [view] })).toEqual({ objects: [view], cursor: null })
    expect(asGrantResult({ grantId: 'g', commitId: 'c' })).toEqual({ grantId: 'g', commitId: 'c' })
    expect(objectIdParam(view.objectId)).toBe(view.objectId)
  })

  it('turn anything else into bad_request naming what was unexpected', () => {
    expect(() => asRemoteObject([])).toThrow(/unexpected object view/)
    expect(() => asRemoteObject({ ...view, strategy: 'crdt' })).toThrow(/unexpected object view/)
    expect(() => asRemoteObject({ ...view, value: 3 })).toThrow(/unexpected object value/)
    expect(() => asPage({ objects: [], cursor: 3 })).toThrow(/unexpected query cursor/)
    expect(() => asGrantResult({ grantId: 1 })).toThrow(expect.objectContaining({ code: 'bad_request' }))
    expect(() => objectIdParam('nope')).toThrow(expect.objectContaining({ code: 'bad_request' }))
  })

  it('send only the query fields that are set; map unknown error codes to internal', () => {
    expect(queryParams({ context: 'c', type: 't', limit: undefined } as unknown as ClientQuery)).toEqual({ context: 'c', type: 't' })
    expect(errorFromWire({ code: 'conflict', message: 'm' }).code).toBe('conflict')
    expect(errorFromWire({ code: 'teapot', message: 'm' })).toMatchObject({ code: 'internal', details: { hubCode: 'teapot' } })
  })
})
