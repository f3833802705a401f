/**
 * Reads the supported-versions tables of README.md and docs/*.md, so that test/docs/matrix.test.ts
 * can check them against package.json and scripts/otel2-line.json. A table is found by the HTML
 * comment on the line before it (invisible when the markdown is rendered):
 *
 *   <!-- matrix: otel -->
 *   | Node | OpenTelemetry | ... |
 *
 * and read as rows keyed by the header's cells, with backticks and bold marks taken off.
 */

/** One table: its header cells and its rows, each keyed by the header. */
export interface Table {
  header: string[];
  rows: Record<string, string>[];
}

/** The table after `<!-- matrix: name -->` in `markdown`; throws when there is none, or two. */
export function matrixTable(markdown: string, name: string): Table {
  const lines = markdown.split('\n');
  const marker = `<!-- matrix: ${name} -->`;
  const at = lines.flatMap((l, i) => (l.trim() === marker ? [i] : []));
  if (at.length !== 1) throw new Error(`${at.length} "${marker}" markers, expected one`);
  let i = (at[0] as number) + 1;
  while (i < lines.length && (lines[i] as string).trim() === '') i++;
  const body: string[] = [];
  for (; i < lines.length && (lines[i] as string).trim().startsWith('|'); i++) {
    body.push(lines[i] as string);
  }
  if (body.length < 2) throw new Error(`no table after "${marker}"`);
  const header = cells(body[0] as string);
  const rows = body.slice(2).map((line) => {
    const values = cells(line);
    if (values.length !== header.length) {
      throw new Error(`"${line}" has ${values.length} cells, the header ${header.length}`);
    }
    return Object.fromEntries(header.map((h, k) => [h, values[k] as string]));
  });
  return { header, rows };
}

/** The cells of a table line: split on `|` (not on an escaped `\|`), trimmed, marks removed. */
export function cells(line: string): string[] {
  const inner = line
    .trim()
    .replace(/^\|/, '')
    .replace(/(?<!\\)\|$/, '');
  return inner.split(/(?<!\\)\|/).map(plain);
}

/** A cell's text without backticks and bold marks, `\|` read as `|`. */
export function plain(cell: string): string {
  return cell.replaceAll('\\|', '|').replaceAll('`', '').replaceAll('**', '').trim();
}

/** The packages an `npm install spanledger ...` command names with a version: name → version.
 * Flags and `spanledger` itself are left out; a package named without a version maps to `''`. */
export function installArgs(command: string): Map<string, string> {
  const words = command.trim().split(/\s+/);
  if (words[0] !== 'npm' || !['install', 'i'].includes(words[1] as string)) {
    throw new Error(`not an npm install command: ${command}`);
  }
  const out = new Map<string, string>();
  for (const word of words.slice(2)) {
    if (word.startsWith('-') || word === 'spanledger') continue;
    const at = word.lastIndexOf('@');
    if (at <= 0) out.set(word, '');
    else out.set(word.slice(0, at), word.slice(at + 1));
  }
  return out;
}

type Version = [number, number, number];

function version(text: string): Version {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (m === null) throw new Error(`not an exact version: "${text}"`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** Whether `v` is in `range`, for the range forms package.json uses: `||` of space-separated
 * comparators (`>=`, `>`, `<=`, `<`, `=`, bare), `^` and `~` ranges, on exact `x.y.z` versions.
 * Anything else throws, so that a new form is not read wrong. */
export function satisfies(v: string, range: string): boolean {
  const at = version(v);
  return range.split('||').some((set) =>
    set
      .trim()
      .split(/\s+/)
      .every((token) => {
        const m = /^(>=|<=|>|<|=|\^|~)?(\d+\.\d+\.\d+)$/.exec(token);
        if (m === null) throw new Error(`unsupported range "${range}" ("${token}")`);
        const bound = version(m[2] as string);
        const c = compare(at, bound);
        switch (m[1]) {
          case '>=':
            return c >= 0;
          case '>':
            return c > 0;
          case '<=':
            return c <= 0;
          case '<':
            return c < 0;
          case '^': {
            // ^1.2.3 := >=1.2.3 <2.0.0; ^0.2.3 := >=0.2.3 <0.3.0; ^0.0.3 := >=0.0.3 <0.0.4.
            const [major, minor, patch] = bound;
            const upper: Version =
              major > 0 ? [major + 1, 0, 0] : minor > 0 ? [0, minor + 1, 0] : [0, 0, patch + 1];
            return c >= 0 && compare(at, upper) < 0;
          }
          case '~':
            return c >= 0 && compare(at, [bound[0], bound[1] + 1, 0]) < 0;
          default:
            return c === 0;
        }
      }),
  );
}
