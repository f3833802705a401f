/**
 * The attribution dimensions: the one home of their names and attribute keys, built-in and
 * extra, and of the rule that says whether a value is present. Attribution (copying them onto
 * spans), budget scopes (matching them) and metric attributes (labelling by them) all read this
 * module, so the three agree (see docs/attribution.md).
 *
 * A dimension has an attribute key (what spans, baggage, resources and metrics carry:
 * `spanledger.tenant`) and a name (what budget scopes and `check({ dimensions })` use:
 * `tenant`). The built-ins are fixed; an extra key `spanledger.<name>` is named `<name>`, any
 * other extra key (`deployment.environment`) is named by the key itself.
 */
import type { Attributes } from '@opentelemetry/api';
import { ConfigError } from './config-file.js';
import * as A from './semconv.js';

/** The built-in dimensions copied onto spans from resource attributes and baggage, by name. */
export const ATTRIBUTION_DIMENSIONS = {
  team: A.ATTR_TEAM,
  costCenter: A.ATTR_COST_CENTER,
  tenant: A.ATTR_TENANT,
  useCase: A.ATTR_USE_CASE,
} as const;

/** Every built-in dimension by name: the copied ones and the agent's name, which its
 * instrumentation sets (read, never copied). */
export const BUILTIN_DIMENSIONS = {
  ...ATTRIBUTION_DIMENSIONS,
  agent: A.ATTR_GEN_AI_AGENT_NAME,
} as const;

/** Where extra dimensions are configured, for error messages. */
const EXTRA_ORIGINS = 'attribution.extraDimensions or SPANLEDGER_DIMENSIONS';

/**
 * A dimension's value in an attribute set, or undefined when absent. The one rule every reader
 * applies: a value is a string with at least one visible character; `''` and blanks are absent
 * (so a span's blank value falls through to its run root's, and never becomes a label or a
 * budget window of its own).
 */
export function dimensionValue(raw: unknown): string | undefined {
  if (typeof raw !== 'string' || raw === '') return undefined;
  // Fast path for the usual value (it starts with a visible ASCII character): no trimmed copy.
  const first = raw.charCodeAt(0);
  return (first > 32 && first < 127) || raw.trim() !== '' ? raw : undefined;
}

/** One dimension: its name in scopes and its attribute key. */
export interface Dimension {
  readonly name: string;
  readonly key: string;
  /** Copied onto spans from resource attributes and baggage (all but the agent's name). */
  readonly copied: boolean;
}

/** The dimensions in force: the built-ins and the configured extras, in that order. */
export class Dimensions {
  /** Every dimension, built-ins first. */
  readonly all: readonly Dimension[];
  /** Names, as budget scopes use them. */
  readonly names: readonly string[];
  /** Attribute keys of every dimension (the metric attributes). */
  readonly keys: readonly string[];
  /** Attribute keys copied onto spans from resource attributes and baggage. */
  readonly copiedKeys: readonly string[];
  private readonly byName: ReadonlyMap<string, string>;
  private readonly byKey: ReadonlyMap<string, string>;

  /** Use {@link createDimensions}, which validates the extra keys. */
  constructor(all: readonly Dimension[]) {
    this.all = all;
    this.names = all.map((d) => d.name);
    this.keys = all.map((d) => d.key);
    this.copiedKeys = all.filter((d) => d.copied).map((d) => d.key);
    this.byName = new Map(all.map((d) => [d.name, d.key]));
    this.byKey = new Map(all.map((d) => [d.key, d.name]));
  }

  /** Whether `name` names a dimension. */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The attribute key of the dimension `name`. */
  keyOf(name: string): string | undefined {
    return this.byName.get(name);
  }

  /** The name of the dimension whose attribute key is `key`. */
  nameOf(key: string): string | undefined {
    return this.byKey.get(key);
  }

  /** Dimension values by name, each from the first source that has it (a span, then its run's
   * root): what budget scopes match. */
  values(...sources: (Attributes | undefined)[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (const d of this.all) {
      for (const s of sources) {
        const v = s === undefined ? undefined : dimensionValue(s[d.key]);
        if (v !== undefined) {
          out[d.name] = v;
          break;
        }
      }
    }
    return out;
  }

  /** Dimension values by attribute key, the span's own else its run root's: what metrics are
   * labelled with. */
  attributes(span: Attributes, root?: Attributes): Attributes {
    const out: Attributes = {};
    for (const k of this.keys) {
      const v =
        dimensionValue(span[k]) ?? (root === undefined ? undefined : dimensionValue(root[k]));
      if (v !== undefined) out[k] = v;
    }
    return out;
  }

  /** Why `name` is not a dimension, for a scope error (undefined when it is one). */
  unknown(name: string): string | undefined {
    if (this.has(name)) return undefined;
    const named = this.nameOf(name);
    if (named !== undefined) return `a scope names a dimension by its name: use ${named}`;
    return `unknown dimension ${JSON.stringify(name)} (known: ${this.names.join(', ')}; more with ${EXTRA_ORIGINS})`;
  }
}

/** The built-in dimensions alone. */
export const BUILTIN: Dimensions = new Dimensions(
  Object.entries(BUILTIN_DIMENSIONS).map(([name, key]) => ({
    name,
    key,
    copied: name !== 'agent',
  })),
);

// An attribute key: dot-separated words.
const KEY = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/;

// Namespaces whose attributes decide what a span costs. A dimension is copied from baggage,
// which clients control: it must never be able to write one of these onto a span.
const RESERVED_NAMESPACES = [
  'gen_ai.',
  'llm.',
  'ai.',
  'embedding.',
  'langfuse.',
  'traceloop.',
  'openinference.',
  'openai.',
  'anthropic.',
  'otel.',
];

// spanledger's own attributes that are not dimensions: every name in semconv.ts, and any key
// below a `spanledger.<word>.` namespace (cost, trace, budget, pricing, usage, ...).
const OWN_KEYS: ReadonlySet<string> = new Set(
  (Object.values(A) as unknown[]).filter(
    (v): v is string =>
      typeof v === 'string' && !(Object.values(BUILTIN_DIMENSIONS) as string[]).includes(v),
  ),
);

/** Why `key` cannot be an extra dimension, or undefined when it can. */
function refusal(key: string, name: string): string | undefined {
  if (!KEY.test(key)) return 'not an attribute key';
  const builtin = BUILTIN.nameOf(key);
  if (builtin !== undefined) return `already a built-in dimension (${builtin})`;
  if (OWN_KEYS.has(key)) return 'an attribute spanledger reads or writes';
  const ns = /^spanledger\.[^.]+\./.exec(key)?.[0];
  if (ns !== undefined) return `reserved namespace ${ns}`;
  const reserved = RESERVED_NAMESPACES.find((p) => key.startsWith(p));
  if (reserved !== undefined) return `reserved namespace ${reserved}`;
  if (BUILTIN.has(name)) return `its name ${JSON.stringify(name)} is a built-in dimension`;
  return undefined;
}

/** The name of an extra dimension key in scopes: `spanledger.region` is `region`. */
export function dimensionName(key: string): string {
  return key.startsWith('spanledger.') ? key.slice('spanledger.'.length) : key;
}

/**
 * The dimensions in force: the built-ins plus the extra attribute keys, validated once.
 * `origin` names where the keys came from (`SPANLEDGER_DIMENSIONS`,
 * `options.attribution.extraDimensions`); a bad key throws `ConfigError` naming it, the key and
 * why. A key given twice counts once.
 */
export function createDimensions(
  extraKeys: readonly unknown[] | undefined,
  origin: string,
): Dimensions {
  if (extraKeys === undefined || extraKeys.length === 0) return BUILTIN;
  if (!Array.isArray(extraKeys)) {
    throw new ConfigError(`spanledger: ${origin}: expected a list of attribute keys`);
  }
  const all: Dimension[] = [...BUILTIN.all];
  const names = new Map<string, string>();
  for (const raw of extraKeys) {
    const key = typeof raw === 'string' ? raw : String(raw);
    const name = dimensionName(key);
    const why =
      typeof raw !== 'string'
        ? 'not an attribute key'
        : (refusal(key, name) ??
          (names.has(name) && names.get(name) !== key
            ? `its name ${JSON.stringify(name)} is also the name of ${JSON.stringify(names.get(name))}`
            : undefined));
    if (why !== undefined) {
      throw new ConfigError(
        `spanledger: ${origin}: ${JSON.stringify(raw)} cannot be a dimension: ${why}`,
      );
    }
    if (names.has(name)) continue;
    names.set(name, key);
    all.push({ name, key, copied: true });
  }
  return new Dimensions(all);
}
