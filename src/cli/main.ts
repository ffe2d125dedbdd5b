#!/usr/bin/env node
/**
 * The `hub` command's entry point (package.json `bin`). It only sets how
 * V8's young generation grows while the CLI starts (startup-heap.ts) and
 * then loads the CLI itself (run.ts) with a dynamic import: a static one
 * would be parsed, compiled and linked, with all ~1,070 modules under it,
 * before startup-heap.ts ran.
 */
import './startup-heap.js'

await import('./run.js')
