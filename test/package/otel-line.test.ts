/**
 * One OpenTelemetry JS line per run. `npm test` runs the suite twice: in the repository against
 * the 3.x line of its node_modules, and in a copy whose node_modules is the 2.x line
 * (scripts/test.mjs). That only tests spanledger on a line if the tests, the built package and the
 * child processes the tests start all load that tree's `@opentelemetry/*` packages: these tests
 * fail when anything resolves them elsewhere, or when the tree mixes the lines (sdk-trace 2.x
 * needs api < 1.10, 3.x needs api >= 1.10).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { APPS } from '../support/apps.js';
import { ensureBuilt, ROOT } from '../support/built.js';

const PACKAGES = ['@opentelemetry/api', '@opentelemetry/sdk-trace', '@opentelemetry/sdk-node'];

/** A package's directory in the tree's own node_modules (real path). */
const inTree = (name: string): string => realpathSync(join(ROOT, 'node_modules', name));

/** The package directory (real path) `name` resolves to from the module `from` (the packages
 * do not export their package.json). */
function resolvedFrom(from: string, name: string): string {
  const file = realpathSync(createRequire(from).resolve(name));
  const marker = `${sep}node_modules${sep}${name}${sep}`;
  return file.slice(0, file.lastIndexOf(marker) + marker.length - 1);
}

const version = (dir: string): string =>
  (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;

describe("the OpenTelemetry line of this run is the tree's node_modules", () => {
  it.each(PACKAGES)('%s: from the tests and from the built package', (name) => {
    ensureBuilt();
    expect(resolvedFrom(import.meta.filename, name)).toBe(inTree(name));
    expect(resolvedFrom(join(ROOT, 'dist', 'index.cjs'), name)).toBe(inTree(name));
  });

  it('from a child process that loads spanledger by name, as the test apps do', () => {
    ensureBuilt();
    // The child's view, computed the same way as resolvedFrom.
    const script = `
      const { createRequire } = require('node:module');
      const { realpathSync } = require('node:fs');
      const { sep } = require('node:path');
      const fromPkg = createRequire(require.resolve('spanledger'));
      console.log(JSON.stringify(${JSON.stringify(PACKAGES)}.map((name) => {
        const file = realpathSync(fromPkg.resolve(name));
        const marker = sep + 'node_modules' + sep + name + sep;
        return file.slice(0, file.lastIndexOf(marker) + marker.length - 1);
      })));`;
    const out = execFileSync(process.execPath, ['-e', script], { cwd: APPS, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(PACKAGES.map(inTree));
  });

  it('one @opentelemetry/api for the SDK packages, of the line their sdk-trace needs', () => {
    const api = inTree('@opentelemetry/api');
    expect(
      resolvedFrom(join(inTree('@opentelemetry/sdk-trace'), 'package.json'), '@opentelemetry/api'),
    ).toBe(api);
    expect(
      resolvedFrom(join(inTree('@opentelemetry/sdk-node'), 'package.json'), '@opentelemetry/api'),
    ).toBe(api);
    const traceMajor = version(inTree('@opentelemetry/sdk-trace')).split('.')[0];
    const apiMinor = Number(version(api).split('.')[1]);
    expect({ traceMajor, apiFits: traceMajor === '2' ? apiMinor < 10 : apiMinor >= 10 }).toEqual({
      traceMajor: expect.stringMatching(/^[23]$/),
      apiFits: true,
    });
  });
});
