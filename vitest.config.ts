import { defineConfig } from 'vitest/config'

// Tests run on src/: the package.json "imports" (#platform/*, #client/key-file)
// resolve to the TypeScript sources under this condition (tsconfig.json has
// the same customConditions), and to dist/ everywhere else.
const conditions = ['identity-hub-source', 'node', 'import', 'module', 'default']

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    setupFiles: ['./src/shim.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks'
  }
})
