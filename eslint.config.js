// Lint rules, including the import boundaries of STYLE.md §1 and DESIGN.md §1:
// common/ imports none of the other folders; image-mgmt/ and flow-container/ import only common/;
// flow-container/ never touches database code; only common/db/** and *-store.ts modules import
// knex (type-only imports are allowed everywhere).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const folders = (...names) => names.map((n) => `**/${n}/**`);
const knexOnlyInStores = {
  group: ['knex', 'mysql2', 'mysql2/*', 'better-sqlite3'],
  message: 'SQL lives in *-store.ts modules and common/db/** (STYLE.md §3); import { type Knex } for types.',
  allowTypeImports: true,
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', '**/*.cjs', 'scripts/**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [knexOnlyInStores] }],
    },
  },
  {
    files: ['common/**/*.ts'],
    ignores: ['common/db/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: folders('web-server', 'flow-container', 'image-mgmt', 'migrations'),
              message: 'common/ is pure and imports none of the other folders.',
            },
            {
              group: ['express', 'express/*', '@kubernetes/*', 'node:fs', 'node:child_process', 'node:net', 'node:http'],
              message: 'common/ is pure: no I/O libraries (common/db/** is the one exception).',
            },
            knexOnlyInStores,
          ],
        },
      ],
    },
  },
  {
    files: ['common/db/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: folders('web-server', 'flow-container', 'image-mgmt'), message: 'common/ imports none of the other folders.' },
          ],
        },
      ],
    },
  },
  {
    files: ['flow-container/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: folders('web-server', 'image-mgmt', 'migrations'), message: 'flow-container/ imports only common/.' },
            {
              group: ['**/common/db/**', 'knex', 'mysql2', 'mysql2/*', 'better-sqlite3'],
              message: 'The flow container never holds database credentials nor imports database code.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['image-mgmt/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: folders('web-server', 'flow-container'), message: 'image-mgmt/ imports only common/.' }, knexOnlyInStores] },
      ],
    },
  },
  {
    files: ['**/*-store.ts', 'migrations/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
);
