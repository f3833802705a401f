import { join, resolve } from 'node:path';
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
    // The `spanledger` command (ESM only, executable), and the demo's run (`cli/demo`: the
    // NodeSDK, the OpenAI instrumentations and the example agent) as a bundle of its own that
    // main loads for `spanledger demo` only, so other commands never load the SDK. No splitting:
    // each file is whole, and no chunk lands beside the library's.
    // `cli/report/html` is the HTML page's renderer, which `report --html` and the demo load by a
    // path the bundler does not follow (it inlines chart.js: only when a page is written).
    entry: {
      'cli/main': 'src/cli/main.ts',
      'cli/demo': 'src/cli/demo/run.ts',
      'cli/report/html': 'src/cli/report/html.ts',
    },
    format: ['esm'],
    sourcemap: true,
    clean: ['!index.*'],
    target: 'node18',
    splitting: false,
    banner: { js: '#!/usr/bin/env node' },
    esbuildOptions(options) {
      // The example agent imports `spanledger` as users do: here, the sources it is built with.
      options.alias = { ...options.alias, spanledger: resolve('src/index.ts') };
    },
    esbuildPlugins: [
      {
        // src/cli/demo.ts loads './demo/run.js': in the build, the bundle next to main.
        name: 'demo-run-bundle',
        setup(build) {
          build.onResolve({ filter: /^\.\/demo\/run\.js$/ }, (args) =>
            args.importer.endsWith(join('src', 'cli', 'demo.ts'))
              ? { path: './demo.js', external: true }
              : undefined,
          );
        },
      },
    ],
  },
]);
