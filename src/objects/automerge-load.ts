/**
 * The Automerge API every module of the hub imports (not the package's
 * default entry): its `slim` build, with the backend supplied by the
 * platform — under Node compiled on the first Automerge call
 * (platform/automerge-node.ts), in a browser instantiated at import
 * (platform/automerge-web.ts). The seam is imported first, so the backend
 * table is set before any importer of this module runs.
 */
import '#platform/automerge'

export * from '@automerge/automerge/slim'
export { automergeLoaded } from '#platform/automerge'
