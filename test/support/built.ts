/**
 * Tests that run the package as users do (`node --import spanledger/register`, `require`) need
 * `dist/`. `npm test` builds before vitest; a local `vitest run` builds once if `dist/` is
 * missing (run `npm run build` after changing `src/` when running tests by hand).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '..', '..');

/** Build `dist/` unless its entries exist. */
export function ensureBuilt(): void {
  const entries = ['index.js', 'index.cjs', 'node.js', 'register.js', 'register.cjs'];
  if (entries.every((f) => existsSync(join(ROOT, 'dist', f)))) return;
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
}
