// ESLint 9 flat config (`npm run lint`, run by CI): typescript-eslint's recommended rules on the
// whole tree. Not the type-checked set: on CI's two cores it takes over a minute, and `npm run
// typecheck` already runs the compiler.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.data/', 'src/cli/generated/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_name` marks a deliberately unused binding; `const { secret: _, ...rest }` drops a field.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
  {
    // Tests and benchmarks read GraphQL replies and log lines as JSON of whatever shape they assert on.
    files: ['test/**', 'bench/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // type-graphql's buildSchema types its resolver list as Function[].
    files: ['src/graphql/schema.ts'],
    rules: { '@typescript-eslint/no-unsafe-function-type': 'off' },
  },
  {
    // OpenTelemetry's modules are require()d only when tracing is on.
    files: ['src/observability/tracing.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Plain CommonJS run by node before anything is compiled (`npm start`).
    files: ['scripts/**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The GraphQL IDE's page script runs in the browser, on the UMD bundles the page loads.
    files: ['src/graphql/ide/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: { ...globals.browser, React: 'readonly', ReactDOM: 'readonly', GraphiQL: 'readonly', graphqlWs: 'readonly' },
    },
  },
);
