import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importZones } from './scripts/lint/import-zones.js';

export default tseslint.config(
  { ignores: ['node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // The layers (style.md): shared/db imports no feature, api/ never shared/db, and so on.
    files: ['api/**/*.ts', 'workers/**/*.ts', 'shared/**/*.ts'],
    plugins: { house: { rules: { 'import-zones': importZones } } },
    rules: { 'house/import-zones': 'error' },
  },
  {
    // The web client runs in the browser: its globals, and every file type-checked (// @ts-check).
    files: ['api/public/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'sessionStorage',
          'fetch',
          'EventSource',
          'AbortController',
          'AbortSignal',
          'DOMException',
          'Intl',
          'console',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
          'HTMLElement',
          'HTMLButtonElement',
          'HTMLInputElement',
          'HTMLSelectElement',
          'HTMLFormElement',
          'SubmitEvent',
          'EventListener',
          'atob',
          'FileReader',
          'FormData',
          'URLSearchParams',
          'HTMLTextAreaElement',
        ].map((g) => [g, 'readonly']),
      ),
    },
  },
  {
    files: ['scripts/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
