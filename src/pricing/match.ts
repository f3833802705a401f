/**
 * Whether a model id matched its catalog entry exactly or only approximately. The catalog
 * matches many ids by prefix or substring (`starts_with: deepseek-chat` also takes
 * `deepseek-chatt`), so a typo or an unknown variant is priced at its neighbour's price without
 * a word. An id is exact when it is one of the entry's own names (its id, an `equals`, or the
 * literal of a `starts_with`, `contains` or `ends_with` rule), or a fully anchored `regex` rule
 * takes it, once the recognised dated and versioned forms are taken off: dated snapshots,
 * `-latest`, Google's `-001` stable versions, Bedrock region and vendor prefixes and `-v1:0`
 * version suffixes, and `@` versions. See docs/pricing.md, "Approximate matches".
 */
import type { CatalogModel } from './catalog.js';

/** How a model id reached the entry that priced it (`spanledger.pricing.match`). */
export type MatchKind = 'exact' | 'approximate';

/** A catalog match rule, as the package's data holds it. */
type Clause =
  | { equals: string }
  | { starts_with: string }
  | { ends_with: string }
  | { contains: string }
  | { regex: string }
  | { or: Clause[] }
  | { and: Clause[] };

interface Anchors {
  names: Set<string>;
  regexes: RegExp[];
}

const anchorsCache = new WeakMap<object, Anchors>();

function collect(clause: Clause | undefined, out: Anchors): void {
  if (clause === undefined || clause === null || typeof clause !== 'object') return;
  if ('or' in clause) for (const c of clause.or) collect(c, out);
  else if ('and' in clause) for (const c of clause.and) collect(c, out);
  else if ('equals' in clause) out.names.add(clause.equals.toLowerCase());
  else if ('starts_with' in clause) out.names.add(clause.starts_with.toLowerCase());
  else if ('ends_with' in clause) out.names.add(clause.ends_with.toLowerCase());
  else if ('contains' in clause) out.names.add(clause.contains.toLowerCase());
  else if ('regex' in clause) {
    // Only a regex anchored at both ends names ids; `^(?!...)` only excludes some.
    const r = clause.regex;
    if (r.startsWith('^') && r.endsWith('$') && !r.startsWith('^(?!')) {
      try {
        out.regexes.push(new RegExp(r));
      } catch {
        // A regex this engine cannot compile names nothing.
      }
    }
  }
}

function anchorsOf(model: CatalogModel): Anchors {
  let a = anchorsCache.get(model.info);
  if (a === undefined) {
    a = { names: new Set([model.modelId.toLowerCase()]), regexes: [] };
    collect((model.info as { match?: Clause }).match, a);
    anchorsCache.set(model.info, a);
  }
  return a;
}

const MONTHS = '(?:0[1-9]|1[0-2])';
const DAYS = '(?:0[1-9]|[12]\\d|3[01])';
/** Trailing forms that name a snapshot or version of the same model, taken off one at a time
 * from the end: `@20240620` (Vertex), `:0` (Bedrock revision), `-v1` (Bedrock API version 1;
 * a higher version, `-v2`, is another model: Titan Text Embeddings V2, unless a date before
 * it names the model), `-latest`, dated previews (`-preview-05-06`), dated
 * snapshots (`-2024-08-06`, `-20240806`, `-0613`, `-2407`, `-preview-05-06`'s `-05-06`), and
 * Google's stable versions (`-001`). */
const SUFFIXES: readonly RegExp[] = [
  /@[\w.-]+$/,
  /:\d+$/,
  /-v1$/,
  // After a dated snapshot the date names the model: `claude-3-5-sonnet-20241022-v2:0`.
  /(?<=-20\d{6})-v\d+$/,
  /-latest$/,
  new RegExp(`-preview-${MONTHS}-?${DAYS}$`),
  new RegExp(`-20\\d{2}-?${MONTHS}-?${DAYS}$`),
  new RegExp(`-${MONTHS}-?${DAYS}$`),
  new RegExp(`-2\\d${MONTHS}$`),
  /-\d{3}$/,
];
/** Bedrock cross-region inference profile prefixes (`us.anthropic.claude-...`). */
const REGION = /^(?:us|eu|apac|global|us-gov|jp|au|ca)\./;
/** A Bedrock vendor prefix (`anthropic.`, `amazon.`, `meta.`). */
const VENDOR = /^[a-z][a-z0-9-]*\.(?=[a-z])/;

/** The forms of an id to compare with an entry's names: the id, then each recognised suffix
 * and prefix taken off in turn. */
function forms(id: string): string[] {
  const out = [id];
  let prefixes = [id];
  const region = REGION.exec(id);
  if (region) prefixes.push(id.slice(region[0].length));
  const vendored: string[] = [];
  for (const p of prefixes) {
    const vendor = VENDOR.exec(p);
    if (vendor) vendored.push(p.slice(vendor[0].length));
  }
  prefixes = [...prefixes, ...vendored];
  for (const p of prefixes) {
    let cur = p;
    if (cur !== id) out.push(cur);
    for (let changed = true; changed; ) {
      changed = false;
      for (const s of SUFFIXES) {
        const next = cur.replace(s, '');
        if (next !== cur && next !== '') {
          cur = next;
          out.push(cur);
          changed = true;
        }
      }
    }
  }
  return out;
}

/**
 * Whether `id` (the model id as the catalog was asked for it) matched `model` exactly or only
 * by a prefix or substring rule. Costs a few microseconds: callers cache it with the
 * resolution.
 */
export function matchKind(model: CatalogModel, id: string): MatchKind {
  const anchors = anchorsOf(model);
  const trimmed = id.trim();
  const lower = trimmed.toLowerCase();
  for (const r of anchors.regexes) if (r.test(trimmed) || r.test(lower)) return 'exact';
  for (const f of forms(lower)) {
    if (anchors.names.has(f)) return 'exact';
    for (const r of anchors.regexes) if (r.test(f)) return 'exact';
  }
  return 'approximate';
}
