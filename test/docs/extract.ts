/**
 * Extracts the fenced code blocks of the README and docs/*.md, with the directive that the
 * harness reads from an HTML comment just before a block (invisible when the markdown is
 * rendered, so what the user reads and copies is the block itself):
 *
 *   <!-- snippet: name=readme-nodesdk file=prices.yaml skip="why it is not run" -->
 *
 * - `name`: the id under which test/integration/docs/snippets.test.ts keeps what the harness adds
 *   to run the block (environment, code appended after it, figures to assert);
 * - `file`: the block is written under this name into the document's temporary project (so a
 *   later block, e.g. `node --import ./telemetry.mjs app.mjs`, can use it) and not run by itself;
 * - `skip`: the block is not run, for the stated reason.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** One fenced block of a markdown file. */
export interface Snippet {
  /** The markdown file, relative to the repository root. */
  doc: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's language tag, lower case (`''` when none). */
  lang: string;
  /** The block's text, as a user copies it. */
  code: string;
  /** The directive before the block (empty when none). */
  directive: Record<string, string>;
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/;
const DIRECTIVE = /^<!--\s*snippet:(.*?)-->\s*$/;
const PAIR = /(\w+)(?:=(?:"([^"]*)"|(\S+)))?/g;

/** Parses the `key=value key="value"` pairs of a directive; a bare key reads `'true'`. */
export function parseDirective(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(PAIR)) {
    const key = m[1] as string;
    out[key] = m[2] ?? m[3] ?? 'true';
  }
  return out;
}

/** The fenced blocks of one markdown text. */
export function extractSnippets(doc: string, markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] as string);
    if (open === null) continue;
    const [, indent, fence, lang] = open as unknown as [string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j] as string;
      if (l.trim().startsWith(fence) && l.trim().replaceAll(fence[0] as string, '') === '') break;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l);
    }
    // The directive: the nearest non-blank line above the fence, if it is a snippet comment.
    let k = i - 1;
    while (k >= 0 && (lines[k] as string).trim() === '') k--;
    const d = k >= 0 ? DIRECTIVE.exec((lines[k] as string).trim()) : null;
    out.push({
      doc,
      line: i + 1,
      lang: lang.toLowerCase(),
      code: `${body.join('\n')}\n`,
      directive: d === null ? {} : parseDirective(d[1] as string),
    });
    i = j;
  }
  return out;
}

/** The markdown files whose snippets users copy: README.md and docs/*.md. */
export function docFiles(root: string): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => join(root, 'docs', f));
  return [join(root, 'README.md'), ...docs];
}

/** Every snippet of README.md and docs/*.md. */
export function allSnippets(root: string): Snippet[] {
  return docFiles(root).flatMap((f) => extractSnippets(relative(root, f), readFileSync(f, 'utf8')));
}

/** A snippet's label in test names and messages: `docs/setup.md:84 (ts)`. */
export function label(s: Snippet): string {
  return `${s.doc}:${s.line} (${s.lang || 'no language'})${s.directive.name ? ` ${s.directive.name}` : ''}`;
}

/** The module specifiers a JS/TS snippet imports, with the names it imports from each. */
export function importsOf(code: string): { from: string; names: string[]; typeOnly: boolean }[] {
  const out: { from: string; names: string[]; typeOnly: boolean }[] = [];
  const re = /import\s+(type\s+)?([\s\S]*?)\s+from\s+['"]([^'"]+)['"]/g;
  for (const m of code.matchAll(re)) {
    const clause = m[2] as string;
    const named = /\{([\s\S]*)\}/.exec(clause);
    const names =
      named === null
        ? []
        : (named[1] as string)
            .split(',')
            .map((n) => n.trim())
            .filter((n) => n !== '')
            .map((n) => n.replace(/^type\s+/, '').split(/\s+as\s+/)[0] as string);
    out.push({ from: m[3] as string, names, typeOnly: m[1] !== undefined });
  }
  for (const m of code.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    out.push({ from: m[1] as string, names: [], typeOnly: false });
  }
  return out;
}
