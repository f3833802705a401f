import { defineConfig } from 'tsup';

// Two builds run in parallel into one `dist/`: each cleans only its own outputs (tsup's `clean`
// array lists exclusions from the wipe), so neither can delete the other's files.
export default defineConfig([
  {
    // The library: ESM `dist/index.js` + `dist/index.d.ts`, CJS `dist/index.cjs` + `dist/index.d.cts`.
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: ['!cli/**'],
    target: 'node18',
    splitting: false,
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
