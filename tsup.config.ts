import { defineConfig } from 'tsup';

// Two builds run in parallel into one `dist/`: each cleans only its own outputs (tsup's `clean`
// array lists exclusions from the wipe), so neither can delete the other's files.
export default defineConfig([
  {
    // The library: ESM `dist/index.js` + `dist/index.d.ts`, CJS `dist/index.cjs` + `dist/index.d.cts`,
    // and the same for `spanledger/node` and `spanledger/register`. Shared code goes to chunks
    // (splitting), so the three entries share one copy of each class: a `BudgetExceededError`
    // thrown by a ledger from `spanledger/node` is an instance of the one from `spanledger`.
    entry: { index: 'src/index.ts', node: 'src/node/index.ts', register: 'src/register.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: ['!cli/**'],
    target: 'node18',
    splitting: true,
    // `import.meta.url` in the CJS build of register (never used there: see src/register.ts).
    shims: true,
    // Which build a file is in (register installs the ESM loader hook in the ESM build only).
    // A runtime test cannot tell: the shims define `__filename` and `import.meta.url` in both.
    esbuildOptions(options, { format }) {
      options.define = { ...options.define, __SPANLEDGER_ESM__: String(format === 'esm') };
    },
  },
  {
    // The `spanledger` command (ESM only, executable).
    entry: { 'cli/main': 'src/cli/main.ts' },
    format: ['esm'],
    sourcemap: true,
    clean: ['!index.*'],
    target: 'node18',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
