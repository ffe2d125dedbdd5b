// Lint config: typescript-eslint's recommended rules, plus the few that keep
// module boundaries honest (no `any`, no console in library code).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error'
    }
  },
  {
    // The CLI, examples and benchmarks talk to a terminal on purpose.
    files: ['src/cli/**', 'examples/**', 'bench/**', 'test/**', 'scripts/**'],
    rules: { 'no-console': 'off' }
  },
  {
    // Plain Node scripts (run by npm scripts before any build).
    files: ['scripts/**/*.mjs'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly' } }
  }
)
