#!/usr/bin/env node
/**
 * Every price that changed between two versions of the catalog (`@pydantic/genai-prices`), for
 * a catalog upgrade (docs/pricing.md, "Updating the catalog"):
 *
 *   node scripts/catalog-diff.mjs 0.1.7 0.1.8
 *
 * Installs both versions into a temporary directory (never into the repository's node_modules),
 * loads each one's bundled providers and prints, per provider and model: models added and
 * removed, match rules changed, and each price (per price period: always, from a date, or a
 * daily window) whose value or tiers differ. Exit code 0; 2 on bad arguments or a failed install.
 *
 * `diffCatalogs(old, new)` is exported for the test (test/pricing/catalog-diff.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const PACKAGE = '@pydantic/genai-prices';

/** A price period's name: `always`, `from 2025-06-10`, `daily 00:30:00Z-16:30:00Z`. */
function periodName(constraint) {
  if (constraint === undefined) return 'always';
  if (constraint.type === 'start_date') return `from ${constraint.start_date}`;
  return `daily ${constraint.start_time}-${constraint.end_time}`;
}

/** A model's prices as Map(period name -> prices object). */
function periods(model) {
  const out = new Map();
  if (Array.isArray(model.prices)) {
    for (const p of model.prices) out.set(periodName(p.constraint), p.prices ?? {});
  } else {
    out.set('always', model.prices ?? {});
  }
  return out;
}

function show(value) {
  if (value === undefined) return '(none)';
  if (typeof value === 'number') return String(value);
  const tiers = value.tiers.map((t) => `>${t.start}: ${t.price}`).join(', ');
  return `${value.base} (${tiers})`;
}

/**
 * The differences between two catalogs (arrays of providers as the package bundles them), one
 * line each, sorted: `+ provider/model` added, `- provider/model` removed,
 * `~ provider/model match: old -> new`, `~ provider/model [period] key: old -> new`.
 */
export function diffCatalogs(before, after) {
  const index = (providers) => {
    const map = new Map();
    for (const p of providers) for (const m of p.models) map.set(`${p.id}/${m.id}`, m);
    return map;
  };
  const a = index(before);
  const b = index(after);
  const lines = [];
  for (const key of a.keys()) if (!b.has(key)) lines.push(`- ${key}`);
  for (const [key, model] of b) {
    const old = a.get(key);
    if (old === undefined) {
      lines.push(`+ ${key}`);
      continue;
    }
    const matchA = JSON.stringify(old.match);
    const matchB = JSON.stringify(model.match);
    if (matchA !== matchB) lines.push(`~ ${key} match: ${matchA} -> ${matchB}`);
    const pa = periods(old);
    const pb = periods(model);
    for (const period of new Set([...pa.keys(), ...pb.keys()])) {
      const x = pa.get(period) ?? {};
      const y = pb.get(period) ?? {};
      for (const price of new Set([...Object.keys(x), ...Object.keys(y)])) {
        if (JSON.stringify(x[price]) !== JSON.stringify(y[price])) {
          lines.push(`~ ${key} [${period}] ${price}: ${show(x[price])} -> ${show(y[price])}`);
        }
      }
    }
  }
  return lines.sort();
}

/** Install one version into `dir` and load its bundled providers. */
async function load(dir, version) {
  const r = spawnSync(
    'npm',
    ['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', `${PACKAGE}@${version}`],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`npm install ${PACKAGE}@${version} failed:\n${r.stderr}`);
  const entry = join(dir, 'node_modules', PACKAGE, 'dist', 'index.js');
  const mod = await import(pathToFileURL(entry).href);
  return (await mod.waitForUpdate()) ?? [];
}

async function main(args) {
  if (args.length !== 2 || args.some((v) => !/^[\w.-]+$/.test(v))) {
    process.stderr.write('usage: node scripts/catalog-diff.mjs <old version> <new version>\n');
    return 2;
  }
  const root = mkdtempSync(join(tmpdir(), 'catalog-diff-'));
  try {
    const [before, after] = [
      await load(join(root, 'old'), args[0]),
      await load(join(root, 'new'), args[1]),
    ];
    const lines = diffCatalogs(before, after);
    process.stdout.write(`${PACKAGE} ${args[0]} -> ${args[1]}: ${lines.length} changes\n`);
    for (const line of lines) process.stdout.write(`${line}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    return 2;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
