import { spawnSync } from 'node:child_process';
import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_CONFIG_FILE_BYTES, readConfigFile } from '../src/config-file.js';
import { configErrorOf } from './support/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'spanledger-config-'));
const ROOT = join(import.meta.dirname, '..');

describe('readConfigFile', () => {
  it('states its size limit: 16 MiB', () => {
    expect(MAX_CONFIG_FILE_BYTES).toBe(16 * 1024 * 1024);
  });

  it('parses JSON as JSON: JSON.parse semantics, not the YAML parser', () => {
    // A repeated key: JSON.parse keeps the last value; the YAML parser refuses the document.
    // (The YAML parser is also orders of magnitude slower on large JSON: docs/setup.md.)
    const path = join(dir, 'dup.json');
    writeFileSync(path, '{"providerAliases": {"gw": "azure", "gw": "openai"}}');
    expect(readConfigFile(path)).toEqual({ providerAliases: { gw: 'openai' } });
    const yamlPath = join(dir, 'dup.yaml');
    writeFileSync(yamlPath, 'providerAliases:\n  gw: azure\n  gw: openai\n');
    expect(configErrorOf(() => readConfigFile(yamlPath))).toMatch(/unique/i);
  });

  it('a .json file that is YAML but not JSON is refused by the JSON parser', () => {
    const path = join(dir, 'yaml.json');
    writeFileSync(path, 'providerAliases: { gw: openai }\n');
    expect(configErrorOf(() => readConfigFile(path))).toMatch(
      new RegExp(`^spanledger: cannot parse ${path} as JSON: `),
    );
  });

  it('YAML (and JSON in a .yaml file) is parsed as YAML', () => {
    const path = join(dir, 'ok.yaml');
    writeFileSync(path, 'providerAliases: { gw: openai }\n');
    expect(readConfigFile(path)).toEqual({ providerAliases: { gw: openai() } });
    writeFileSync(path, '{"providerAliases": {"gw": "openai"}}');
    expect(readConfigFile(path)).toEqual({ providerAliases: { gw: 'openai' } });
  });

  it('refuses a file over the limit before reading it: a 48 MB file of zeros is not parsed', () => {
    // A sparse file of NUL bytes: any parser would fail on it, so the size is what refused it.
    const path = join(dir, 'huge.json');
    writeFileSync(path, '');
    truncateSync(path, 48_000_000);
    const message = configErrorOf(() => readConfigFile(path));
    expect(message).toMatch(
      new RegExp(
        `^spanledger: cannot read ${path}: 45\\.8 MiB is over the 16 MiB limit of a configuration file$`,
      ),
    );
  });

  it('refuses a FIFO at once instead of hanging startup (in a child process, with a timeout)', () => {
    const fifo = join(dir, 'prices.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const script = `import { readConfigFile } from './src/config-file.ts';
try { readConfigFile(${JSON.stringify(fifo)}); console.log('read'); } catch (e) { console.log(e.message); }`;
    const r = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), ['--eval', script], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.signal).toBeNull();
    expect(r.stdout.trim()).toBe(
      `spanledger: cannot read ${fifo}: not a regular file (a FIFO); give the path of a YAML or JSON file`,
    );
  });

  it('refuses a directory', () => {
    expect(configErrorOf(() => readConfigFile(dir))).toBe(
      `spanledger: cannot read ${dir}: not a regular file (a directory); give the path of a YAML or JSON file`,
    );
  });
});

function openai(): string {
  return 'openai';
}
