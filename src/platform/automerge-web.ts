/**
 * Automerge's wasm in a browser (the `#platform/automerge` seam): the
 * package's entry, which a bundler resolves to a module that instantiates
 * the wasm at import (scripts/build-browser.mjs; docs/browser.md for apps
 * bundling the SDK). A page loads it with the SDK, as before.
 */
import '@automerge/automerge'

/** Always true here: the wasm is instantiated when the SDK is imported. */
export function automergeLoaded (): boolean {
  return true
}
