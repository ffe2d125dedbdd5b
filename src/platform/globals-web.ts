/** Browsers have every global js-libp2p needs (the `#platform/globals` seam; see globals-node.ts). */
export {}
