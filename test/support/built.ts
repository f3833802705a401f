/**
 * Tests that run the package as users do (`node --import spanledger/register`, `require`) need
 * `dist/`. `npm test` builds before vitest; a local `vitest run` builds when `dist/` is missing
 * or older than a source file.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '..', '..');

const mtime = (path: string): number => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
};

/** Build `dist/` when an entry is missing or older than any file under `src/`. */
export function ensureBuilt(): void {
  const entries = ['index.js', 'index.cjs', 'node.js', 'register.js', 'register.cjs'];
  const oldest = Math.min(...entries.map((f) => mtime(join(ROOT, 'dist', f))));
  const src = join(ROOT, 'src');
  const newest = Math.max(
    ...readdirSync(src, { recursive: true }).map((f) => mtime(join(src, String(f)))),
  );
  if (oldest > newest) return;
  const r = spawnSync(join(ROOT, 'node_modules/.bin/tsup'), [], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}\n${r.stderr}`);
}
