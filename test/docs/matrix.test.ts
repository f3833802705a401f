/**
 * The supported-versions tables of README.md, docs/setup.md and docs/clients.md, checked against
 * the versions the project actually pins and tests: the 3.x line is package.json's
 * devDependencies, the 2.x line is scripts/otel2-line.json, and every version listed must be
 * inside spanledger's peer range. A pin, a range or a client release that changes without the
 * docs fails here (docs/setup.md, "Two OpenTelemetry lines").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/built.js';
import { OPENAI7_VERSION } from '../support/tools.js';
import { docFiles } from './extract.js';
import { installArgs, matrixTable, plain, satisfies, type Table } from './matrix.js';

interface PackageJson {
  version: string;
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
const otel2 = JSON.parse(readFileSync(join(ROOT, 'scripts/otel2-line.json'), 'utf8')) as Record<
  string,
  string
>;
const otelOf = (deps: Record<string, string>) =>
  Object.fromEntries(Object.entries(deps).filter(([name]) => name.startsWith('@opentelemetry/')));
/** Each line's pins, by the name the tables give the line. */
const PINS: Record<string, Record<string, string>> = {
  '3.x': otelOf(pkg.devDependencies),
  '2.x': otel2,
};
const PEERS = pkg.peerDependencies;
const SDK_NODE = '@opentelemetry/sdk-node';
// Packages the docs tell users to install that are not pinned themselves: the exporter is
// released with sdk-node, at its version, on both lines (checked below on the installed one).
const WITH_SDK_NODE = ['@opentelemetry/exporter-trace-otlp-http'];

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const table = (file: string, name: string): Table => matrixTable(read(file), name);
const nodeMajor = (cell: string) => Number(/^(\d+)/.exec(cell)?.[1]);

/** What is wrong with an install command for `line` (empty when nothing). */
function installProblems(command: string, line: string): string[] {
  const pins = PINS[line];
  if (pins === undefined) return [`unknown line "${line}"`];
  const problems: string[] = [];
  for (const [name, version] of installArgs(command)) {
    if (!name.startsWith('@opentelemetry/')) continue;
    const expected = WITH_SDK_NODE.includes(name) ? pins[SDK_NODE] : pins[name];
    if (expected === undefined) problems.push(`${name}: no ${line} pin`);
    else if (version !== expected)
      problems.push(`${name}@${version}: the ${line} pin is ${expected}`);
  }
  return problems;
}

describe('the range reader the checks use', () => {
  it('reads the forms package.json uses as npm does', () => {
    expect(satisfies('0.223.5', '^0.223.0')).toBe(true);
    expect(satisfies('0.224.0', '^0.223.0')).toBe(false);
    expect(satisfies('3.0.9', '^2.12.0 || ^3.1.0')).toBe(false);
    expect(satisfies('3.9.0', '^2.12.0 || ^3.1.0')).toBe(true);
    expect(satisfies('1.10.0', '>=1.3.0 <1.11.0')).toBe(true);
    expect(satisfies('1.11.0', '>=1.3.0 <1.11.0')).toBe(false);
    expect(satisfies('0.302.0', '^0.223.0 || >=0.300.0 <0.302.0')).toBe(false);
    expect(satisfies('0.0.4', '^0.0.3')).toBe(false);
    expect(() => satisfies('1.0.0', '1.x')).toThrow('unsupported range');
  });
});

describe('docs/setup.md: every OpenTelemetry package per line', () => {
  const packages = table('docs/setup.md', 'packages');

  it('lists the same packages as the 3.x devDependencies and the 2.x pins', () => {
    const listed = packages.rows.map((r) => r.package).sort();
    expect(listed).toEqual(Object.keys(PINS['3.x'] as object).sort());
    expect(listed).toEqual(Object.keys(otel2).sort());
  });

  it('gives each line its pins, and each peer its range', () => {
    for (const row of packages.rows) {
      const name = row.package as string;
      expect({ name, version: row['3.x line'] }).toEqual({ name, version: PINS['3.x']?.[name] });
      expect({ name, version: row['2.x line'] }).toEqual({ name, version: otel2[name] });
      const range = row["spanledger's peer range"];
      expect({ name, range }).toEqual({ name, range: PEERS[name] ?? 'none (tests only)' });
    }
    // Every peer is listed: spanledger imports nothing from a package the table leaves out.
    const listed = new Set(packages.rows.map((r) => r.package));
    expect(Object.keys(PEERS).filter((p) => !listed.has(p))).toEqual([]);
  });

  it("has every listed version of a peer inside spanledger's peer range", () => {
    const outside = Object.entries(PEERS).flatMap(([name, range]) =>
      Object.entries(PINS).flatMap(([line, pins]) => {
        const v = pins[name];
        return v !== undefined && satisfies(v, range) ? [] : [`${line} ${name}@${v}: ${range}`];
      }),
    );
    expect(outside).toEqual([]);
  });
});

describe('the supported matrix (README.md and docs/setup.md)', () => {
  const matrix = table('docs/setup.md', 'otel');

  it('is the same table in both', () => {
    expect(table('README.md', 'otel')).toEqual(matrix);
  });

  it("names each line's pinned api, sdk-trace and sdk-node, with 3.x primary and 2.x supported", () => {
    expect(matrix.rows.map((r) => r.OpenTelemetry).sort()).toEqual(['2.x', '2.x', '3.x']);
    for (const row of matrix.rows) {
      const line = row.OpenTelemetry as string;
      const pins = PINS[line] as Record<string, string>;
      expect(row).toMatchObject({
        '@opentelemetry/api': pins['@opentelemetry/api'],
        '@opentelemetry/sdk-trace': pins['@opentelemetry/sdk-trace'],
        '@opentelemetry/sdk-node': pins[SDK_NODE],
        status: line === '3.x' ? 'primary' : 'supported',
      });
    }
  });

  it('gives the Node releases each line is tested on: 3.x on 24; 2.x on 20 and on 24', () => {
    const tested = matrix.rows.map((r) => `${r.OpenTelemetry} ${nodeMajor(r.Node as string)}`);
    expect(tested.sort()).toEqual(['2.x 20', '2.x 24', '3.x 24']);
  });

  it("installs each row's line at its pins, naming every peer for 2.x on Node >= 22", () => {
    for (const row of matrix.rows) {
      const line = row.OpenTelemetry as string;
      const command = row.install as string;
      expect({ command, problems: installProblems(command, line) }).toEqual({
        command,
        problems: [],
      });
      const named = installArgs(command);
      // npm picks 3.x releases of the peers left out when their engines fit (Node >= 22.15): a
      // 2.x install there names them all, or it stops with ERESOLVE (docs/setup.md).
      const needed =
        line === '2.x' && nodeMajor(row.Node as string) >= 22
          ? Object.keys(PEERS)
          : ['@opentelemetry/api', SDK_NODE];
      expect({ command, missing: needed.filter((p) => !named.has(p)) }).toEqual({
        command,
        missing: [],
      });
    }
  });
});

describe('npm install commands anywhere in README.md and docs/*.md', () => {
  const commands = docFiles(ROOT).flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((l) => [...l.matchAll(/npm (?:install|i) spanledger[^`|\n]*/g)].map((m) => m[0])),
  );

  it('each install one line, at its pins', () => {
    expect(commands.length).toBeGreaterThanOrEqual(8);
    const problems = commands.flatMap((command) => {
      if (![...installArgs(command).keys()].some((n) => n.startsWith('@opentelemetry/'))) {
        return []; // a bare `npm install spanledger`: npm picks the line
      }
      const fits = Object.keys(PINS).filter((line) => installProblems(command, line).length === 0);
      if (fits.length !== 1) return [`${command}: fits ${fits.length} lines`];
      // A command that names a peer beyond api and sdk-node is the "name every peer" form.
      const named = installArgs(command);
      const beyond = [...named.keys()].some(
        (n) => n in PEERS && n !== '@opentelemetry/api' && n !== SDK_NODE,
      );
      const missing = Object.keys(PEERS).filter((p) => !named.has(p));
      return beyond && missing.length > 0 ? [`${command}: leaves out ${missing.join(', ')}`] : [];
    });
    expect(problems).toEqual([]);
  });

  it('name the exporter at the version the installed sdk-node depends on, its own', () => {
    // Read by path: 3.x's `exports` map does not export package.json.
    const sdkNode = JSON.parse(read(`node_modules/${SDK_NODE}/package.json`)) as {
      version: string;
      dependencies: Record<string, string>;
    };
    for (const name of WITH_SDK_NODE) expect(sdkNode.dependencies[name]).toBe(sdkNode.version);
  });
});

describe("docs/setup.md: npm's ERESOLVE message", () => {
  it("quotes spanledger's version and peer ranges as package.json has them", () => {
    const text = read('docs/setup.md');
    const block = /```text\n(npm error code ERESOLVE[\s\S]*?)```/.exec(text)?.[1] ?? '';
    const fromSpanledger = [...block.matchAll(/peer (\S+)@"([^"]+)" from spanledger@(\S+)/g)];
    expect(fromSpanledger.map((m) => m[1])).toEqual([
      '@opentelemetry/api',
      '@opentelemetry/instrumentation',
    ]);
    for (const [, name, range, version] of fromSpanledger) {
      expect({ name, range, version }).toEqual({
        name,
        range: PEERS[name as string],
        version: pkg.version,
      });
    }
    // The conflict: the 3.x instrumentation npm picks needs api 1.10, which the 2.x api is not.
    const conflict =
      /peer @opentelemetry\/api@"([^"]+)" from @opentelemetry\/instrumentation@(\S+)/.exec(block);
    // npm names the newest 3.x instrumentation in spanledger's range, not the repository's pin.
    expect(
      satisfies(conflict?.[2] as string, PEERS['@opentelemetry/instrumentation'] as string),
    ).toBe(true);
    expect(conflict?.[2]?.startsWith('0.30')).toBe(true);
    expect(satisfies(otel2['@opentelemetry/api'] as string, conflict?.[1] as string)).toBe(false);
  });

  it("README's one-line version of it names the same conflict", () => {
    const pattern =
      /peer @opentelemetry\/api@"([^"]+)" from @opentelemetry\/instrumentation@([\d.]+)/;
    const block = /```text\n(npm error code ERESOLVE[\s\S]*?)```/.exec(read('docs/setup.md'))?.[1];
    const inReadme = pattern.exec(read('README.md'));
    expect(inReadme?.slice(1)).toEqual(pattern.exec(block ?? '')?.slice(1));
    expect(inReadme).not.toBeNull();
  });
});

describe('docs/clients.md: tested client releases per line', () => {
  const clients = table('docs/clients.md', 'clients');
  const otel = table('docs/setup.md', 'otel');

  it('has one column per line, on the Node release the matrix tests it on', () => {
    const lines = clients.header.slice(3);
    expect(lines).toEqual(['3.x (Node 24)', '2.x (Node 20)']);
    for (const column of lines) {
      const [, line, node] = /^(\S+) \(Node (\d+)\)$/.exec(column) ?? [];
      const row = otel.rows.find(
        (r) => r.OpenTelemetry === line && nodeMajor(r.Node as string) === Number(node),
      );
      expect({ column, row: row !== undefined }).toEqual({ column, row: true });
    }
  });

  it('gives the versions the tests install: the devDependencies, openai 7 at OPENAI7_VERSION', () => {
    for (const row of clients.rows) {
      const names = (row.client as string).split(' and ').map(plain);
      const versions = (row.version as string).split(' and ').map(plain);
      expect(versions).toHaveLength(names.length);
      names.forEach((name, k) => {
        const version = versions[k] as string;
        const expected =
          name === 'openai' && version.startsWith('7.')
            ? OPENAI7_VERSION
            : pkg.devDependencies[name];
        expect({ name, version }).toEqual({ name, version: expected });
      });
    }
  });

  it("names each line's instrumentation-openai pin", () => {
    const named = clients.rows.flatMap((row) =>
      clients.header.slice(3).flatMap((column) => {
        const m = /instrumentation-openai ([\d.]+)/.exec(row[column] as string);
        return m === null ? [] : [{ line: column.split(' ')[0] as string, version: m[1] }];
      }),
    );
    expect(named.map((n) => n.line).sort()).toEqual(['2.x', '3.x']);
    for (const { line, version } of named) {
      expect({ line, version }).toEqual({
        line,
        version: PINS[line]?.['@opentelemetry/instrumentation-openai'],
      });
    }
  });
});
