import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_CONFIG_FILE_BYTES, readConfigFile } from '../src/config-file.js';
import { configErrorOf } from './support/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'spanledger-config-'));
const ROOT = join(import.meta.dirname, '..');

/** A JSON prices file of about `bytes` bytes: many provider aliases. */
function bigJson(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  writeSync(fd, '{"providerAliases":{');
  const entry = (i: number) => `"gateway-${String(i).padStart(9, '0')}":"openai",`;
  const per = entry(0).length;
  const n = Math.ceil(bytes / per);
  for (let i = 0; i < n; i += 10_000) {
    let chunk = '';
    for (let j = i; j < Math.min(n, i + 10_000); j++) chunk += entry(j);
    writeSync(fd, chunk);
  }
  writeSync(fd, '"last":"openai"}}');
  closeSync(fd);
}

describe('readConfigFile', () => {
  it('states its size limit: 16 MiB', () => {
    expect(MAX_CONFIG_FILE_BYTES).toBe(16 * 1024 * 1024);
  });

  it('parses JSON as JSON: a 4 MB JSON file in well under 3 s, not a minute', () => {
    const path = join(dir, 'big.json');
    bigJson(path, 4_000_000);
    const started = performance.now();
    const doc = readConfigFile(path) as { providerAliases: Record<string, string> };
    const ms = performance.now() - started;
    expect(Object.keys(doc.providerAliases).length).toBe(Math.ceil(4_000_000 / 29) + 1);
    // JSON.parse takes about 0.3 s here; the YAML parser takes about 13 s for 1 MB of the same.
    expect(ms).toBeLessThan(3000);
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

  it('refuses a file over the limit at once, without reading it: a 48 MB JSON file', () => {
    const path = join(dir, 'huge.json');
    bigJson(path, 48_000_000);
    const started = performance.now();
    const message = configErrorOf(() => readConfigFile(path));
    const ms = performance.now() - started;
    expect(message).toMatch(
      new RegExp(
        `^spanledger: cannot read ${path}: 45\\.8 MiB is over the 16 MiB limit of a configuration file$`,
      ),
    );
    expect(ms).toBeLessThan(100);
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
