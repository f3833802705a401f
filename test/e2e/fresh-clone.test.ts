/**
 * `npm run demo` on a fresh clone, with nothing run before it: the bootstrap
 * (scripts/bootstrap.mjs) installs from the lockfile and builds, then the demo runs; a second
 * `npm run demo` installs and builds nothing. Slow (npm ci from the registry, 1 to 2 minutes),
 * so it is the one such test. It clones the repository's committed HEAD.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/built.js';

// The 2.x run of `npm test` works in a copy of the repository whose node_modules is the 2.x
// install; the clone installs its own (3.x) dependencies from the lockfile whatever runs it,
// so the test runs once, in the repository itself (a git work tree).
const inRepository = existsSync(join(ROOT, '.git'));
const dir = mkdtempSync(join(tmpdir(), 'spanledger-clone-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// This Node first on PATH: npm and the scripts it starts run on it (Node 24 under `npm test`,
// so scripts/node24.mjs runs the demo in-process rather than installing a Node of its own).
const env = {
  ...process.env,
  PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
  CI: '',
  NO_COLOR: '1',
};

function npm(cwd: string, ...args: string[]) {
  return spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout: 600_000 });
}

describe.skipIf(!inRepository)('a fresh clone', () => {
  it('npm run demo installs, builds and runs; the second time it only runs', () => {
    const clone = join(dir, 'spanledger');
    const git = spawnSync('git', ['clone', '--quiet', ROOT, clone], { encoding: 'utf8' });
    expect(git.status, git.stderr).toBe(0);
    expect(existsSync(join(clone, 'node_modules'))).toBe(false);

    const html = join(dir, 'demo.html');
    const args = ['run', 'demo', '--silent', '--', '--runs', '6', '--seed', '5', '--html', html];
    const first = npm(clone, ...args);
    expect(first.status, `${first.stdout}\n${first.stderr}`).toBe(0);
    expect(first.stderr).toContain('bootstrap: node_modules is missing: installing');
    expect(first.stderr).toContain('bootstrap: dist/index.js is missing: building');
    expect(first.stdout).toMatch(/^Total USD \d+\.\d{6} over \d+ spans in 6 runs/m);
    expect(first.stdout).toContain('ran away');
    expect(readFileSync(html, 'utf8')).toContain('<html');

    const second = npm(clone, ...args);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('bootstrap:');
    expect(second.stdout).toBe(first.stdout);
  }, 900_000);
});
