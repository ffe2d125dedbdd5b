#!/usr/bin/env node
/**
 * The owner's dashboard page (issue 16): src/dashboard/main.ts bundled with
 * esbuild (browser platform, one ES module, no CDN, nothing fetched at run
 * time), with index.html and app.css copied beside it, into dist/dashboard/
 * (or `outdir`). The hub serves exactly these three files at /dashboard/
 * (src/http/dashboard/dashboard.ts).
 *
 *   node scripts/build-dashboard.mjs [OUTDIR]
 */
import { build } from 'esbuild'
import { copyFileSync, mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const SRC = join(ROOT, 'src', 'dashboard')

export async function buildDashboard ({ outdir = join(ROOT, 'dist', 'dashboard'), minify = true } = {}) {
  mkdirSync(outdir, { recursive: true })
  await build({
    entryPoints: { app: join(SRC, 'main.ts') },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning'
  })
  copyFileSync(join(SRC, 'index.html'), join(outdir, 'index.html'))
  copyFileSync(join(SRC, 'app.css'), join(outdir, 'app.css'))
  return outdir
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildDashboard(process.argv[2] !== undefined ? { outdir: resolve(process.argv[2]) } : {})
  console.log(`dashboard built into ${out}`)
}
