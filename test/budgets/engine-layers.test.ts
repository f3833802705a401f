/**
 * Data flows one way (ARCHITECTURE.md): budgets/ never imports the layers above it (metrics,
 * processor, the ledger facade, the CLI, node setup). Where budgets must call up, it declares an
 * interface (signals.ts `BudgetInstruments`) and is handed an implementation.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = join(import.meta.dirname, '../../src/budgets');
const UPWARD = /^\.\.\/(metrics|processor|cli|node)\/|^\.\.\/(ledger|register)\.js$/;

describe('budgets/ imports nothing from the layers above it', () => {
  it('no import specifier in src/budgets points up', () => {
    const upward: string[] = [];
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('engine.ts');
    for (const f of files) {
      const text = readFileSync(join(dir, f), 'utf8');
      for (const m of text.matchAll(/\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g)) {
        const spec = m[1] ?? m[2] ?? '';
        if (UPWARD.test(spec)) upward.push(`${f} → ${spec}`);
      }
    }
    expect(upward).toEqual([]);
  });
});
