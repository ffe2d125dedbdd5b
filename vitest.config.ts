import { defineConfig } from 'vitest/config'

// Tests run on src/: the package.json "imports" (#platform/*, #client/key-file)
// resolve to the TypeScript sources under this condition (tsconfig.json has
// the same customConditions), and to dist/ everywhere else.
const conditions = ['identity-hub-source', 'node', 'import', 'module', 'default']

export default defineConfig({
  resolve: { conditions },
  // Vitest also hands ssr.resolve.conditions to Node as --conditions flags,
  // where 'import' would apply to require() inside CommonJS packages too (pg
  // requires pg-pool and would get its ESM build); Node and Vite add 'import'
  // to ES imports by themselves.
  ssr: { resolve: { conditions: conditions.filter(c => c !== 'import') } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    setupFiles: ['./src/shim.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two files at a time, not vitest's default of cores - 1 (one file on
    // this 2-core machine): most of the suite's time is spent waiting for
    // child processes (the CLI, hub processes, Chromium, PostgreSQL) and
    // network round trips, so a second file in flight roughly halves the
    // wall time. Every wait in the suite is for a condition with a
    // generous hang guard, so the extra CPU contention changes how long a
    // test takes, not what it asserts.
    maxWorkers: 2
  }
})
