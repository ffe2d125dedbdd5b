/**
 * Node globals js-libp2p 3 needs and Node 20 lacks (the `#platform/globals`
 * seam, imported by src/shim.ts): `WebSocket`, which @libp2p/websockets uses
 * to dial, taken from `ws`. Feature-detected: on Node 22+ this does nothing.
 */
import { createRequire } from 'node:module'

const G = globalThis as { WebSocket?: unknown }
if (typeof G.WebSocket === 'undefined') {
  // `ws` implements the WHATWG WebSocket surface @libp2p/websockets needs.
  G.WebSocket = (createRequire(import.meta.url)('ws') as { WebSocket: unknown }).WebSocket
}

export {}
