import { describe, expect, it } from 'vitest'
import * as net from './constants.js'
import * as client from '../client/constants.js'
import { MAX_REQUEST_FRAME_BYTES as SERVER_FRAME_BYTES } from '../request/server.js'

// The request protocol's constants are declared in three layers that may not
// import each other's modules (net, request, client): they must not drift.
describe('request protocol constants', () => {
  it('agree between net, the request server and the client SDK', () => {
    expect(client.REQUEST_PROTOCOL).toBe(net.REQUEST_PROTOCOL)
    expect(client.MAX_REQUEST_FRAME_BYTES).toBe(net.MAX_REQUEST_FRAME_BYTES)
    expect(SERVER_FRAME_BYTES).toBe(net.MAX_REQUEST_FRAME_BYTES)
  })
})
