/**
 * Data flows one way (ARCHITECTURE.md): span → usage → price → cost → rollup → budget → metrics →
 * export. The lower layers (usage/, pricing/, budgets/, attribution/) never import the layers above
 * them; where one must call up it declares an interface and is handed an implementation (e.g.
 * budgets/signals.ts `BudgetInstruments`, implemented in metrics/budget-metrics.ts). Pricing and
 * budgets do not import each other: the configuration file that holds both is composed in
 * src/config.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../src');

/** Every relative import of every .ts file under src/, as `from -> to` paths relative to src/. */
function edges(): { from: string; to: string }[] {
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.ts'),
  );
  return files.flatMap((f) =>
    [
      ...readFileSync(join(SRC, f), 'utf8').matchAll(
        /\bfrom\s+'(\.[^']+)'|\bimport\(\s*'(\.[^']+)'\s*\)/g,
      ),
    ].map((m) => ({
      from: f,
      to: relative(SRC, resolve(dirname(join(SRC, f)), m[1] ?? m[2] ?? '')).replace(/\.js$/, '.ts'),
    })),
  );
}

const LOWER = /^(usage|pricing|budgets|attribution)\//;
const UPPER =
  /^(metrics|processor|cli|node|instrumentation|helpers)\/|^(ledger|register|registered|index)\.ts$/;

describe('layers', () => {
  const all = edges();

  it('reads the import graph (a sanity check on the reader itself)', () => {
    expect(all).toContainEqual({ from: 'ledger.ts', to: 'budgets/engine.ts' });
    expect(all).toContainEqual({
      from: 'budgets/redis-ledger.ts',
      to: 'budgets/redis/connection.ts',
    });
  });

  it('no edge from usage/, pricing/, budgets/ or attribution/ up to metrics/, processor/, the ledger or setup', () => {
    const up = all.filter((e) => LOWER.test(e.from) && UPPER.test(e.to));
    expect(up.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it('pricing and budgets do not import each other', () => {
    const cross = all.filter(
      (e) =>
        (e.from.startsWith('pricing/') && e.to.startsWith('budgets/')) ||
        (e.from.startsWith('budgets/') && e.to.startsWith('pricing/')),
    );
    expect(cross.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it('usage/ imports nothing above it, pricing included', () => {
    const up = all.filter((e) => e.from.startsWith('usage/') && /^(pricing|budgets)\//.test(e.to));
    expect(up.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });
});
