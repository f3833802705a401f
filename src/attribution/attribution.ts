/**
 * Attribution: who caused the spend. Dimensions (src/dimensions.ts: team, cost center, tenant,
 * use case, and configured extras) come from the service's resource (ownership), from values this
 * process set with `withAttribution`, and from W3C Baggage (the request, across service hops),
 * and are copied onto every span at start, so cost attributes, rollups and budgets can be
 * grouped by them. Inbound baggage is client-controlled: only dimension keys can ever come from
 * it (never a cost or usage attribute), values are sanitised, the trust setting decides which
 * keys count, and each dimension has a cardinality cap beyond which values become `__other__`.
 * See docs/attribution.md.
 */
import {
  type Attributes,
  type Baggage,
  type Context,
  context,
  createContextKey,
  propagation,
  ROOT_CONTEXT,
} from '@opentelemetry/api';
import { ConfigError } from '../config-file.js';
import {
  ATTRIBUTION_DIMENSIONS,
  BUILTIN,
  createDimensions,
  type Dimensions,
  dimensionValue,
} from '../dimensions.js';

/** The built-in dimensions copied onto spans, by their names (`tenant` ↔ `spanledger.tenant`). */
export const ATTRIBUTION_KEYS = ATTRIBUTION_DIMENSIONS;

/** Attribution values for {@link withAttribution}: built-in dimensions by name, extra dimensions
 * by attribute key (`'spanledger.region': 'eu'`). */
export type AttributionDimensions = Partial<Record<keyof typeof ATTRIBUTION_KEYS, string>> & {
  readonly [key: `${string}.${string}`]: string | undefined;
};

/** Value of a dimension past its cardinality cap. */
export const OTHER = '__other__';

/** Options of the attribution applied to every span. */
export interface AttributionOptions {
  /** Which inbound baggage counts: `true` (every dimension key), `false` (none: for services
   * at a trust boundary), or the dimension keys to accept. Values this process sets with
   * `withAttribution` count whatever this says. Default true. */
  trustBaggage?: boolean | readonly string[];
  /** More dimension attribute keys copied like the built-in ones (e.g. `spanledger.region`,
   * named `region` in budget scopes). */
  extraDimensions?: readonly string[];
  /** Longer values are cut to this many characters. Default 64. */
  maxValueLength?: number;
  /** Distinct values kept per dimension; later new values become `__other__`. Default 1000. */
  maxValuesPerDimension?: number;
}

const OPTION_KEYS: readonly (keyof AttributionOptions)[] = [
  'trustBaggage',
  'extraDimensions',
  'maxValueLength',
  'maxValuesPerDimension',
];

// Letters, digits and a few separators; anything else (control characters, quotes, spaces,
// markup) becomes `_`, so a value is safe as a metric label and a ledger key part.
const UNSAFE = /[^A-Za-z0-9._:/@+-]/g;

// Values set by `withAttribution` in this process, by attribute key. A context value is never
// extracted from a request, so an inbound baggage header cannot forge one.
const LOCAL = createContextKey('spanledger.attribution.local');
// No context carries LOCAL until `withAttribution` first runs: until then a span's start skips
// the context lookup, which is most of the per-span cost of attribution (docs/performance.md).
let localEverSet = false;

/**
 * Validate attribution options; `origin` names them in errors (`options.attribution`). Throws
 * `ConfigError` on an unknown key or bad value. Returns the dimensions in force.
 */
export function validateAttributionOptions(
  options: AttributionOptions,
  origin: string,
): Dimensions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError(`spanledger: invalid attribution in ${origin}: expected an object`);
  }
  for (const key of Object.keys(options)) {
    if (!(OPTION_KEYS as string[]).includes(key)) {
      throw new ConfigError(
        `spanledger: invalid attribution in ${origin}: ${key}: unknown key (known: ${OPTION_KEYS.join(', ')})`,
      );
    }
  }
  const dims = createDimensions(options.extraDimensions, `${origin}.extraDimensions`);
  trustedKeys(options.trustBaggage, dims, `${origin}.trustBaggage`);
  for (const key of ['maxValueLength', 'maxValuesPerDimension'] as const) {
    const v = options[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
      throw new ConfigError(
        `spanledger: invalid attribution in ${origin}: ${key}: expected a positive integer, got ${JSON.stringify(v)}`,
      );
    }
  }
  return dims;
}

/** The dimension keys inbound baggage may set under `trust`; throws on anything else. */
export function trustedKeys(trust: unknown, dims: Dimensions, origin: string): string[] {
  if (trust === undefined || trust === true) return [...dims.copiedKeys];
  if (trust === false) return [];
  if (!Array.isArray(trust)) {
    throw new ConfigError(
      `spanledger: ${origin}: expected true, false or a list of dimension keys, got ${JSON.stringify(trust)}`,
    );
  }
  for (const key of trust) {
    if (typeof key !== 'string' || !dims.copiedKeys.includes(key)) {
      throw new ConfigError(
        `spanledger: ${origin}: ${JSON.stringify(key)} is not a dimension key (expected true, false or dimension keys: ${dims.copiedKeys.join(', ')})`,
      );
    }
  }
  return [...new Set(trust as string[])];
}

/** Copies attribution dimensions onto spans; bounded per dimension. */
export class Attribution {
  /** The dimensions in force (built-in and extra). */
  readonly dimensions: Dimensions;
  private readonly keys: readonly string[];
  private readonly trusted: readonly string[];
  private readonly maxLength: number;
  private readonly maxValues: number;
  private readonly seen = new Map<string, Set<string>>();
  private readonly resourceCache = new WeakMap<object, Attributes>();
  /** Values replaced by `__other__` since start, per dimension key. */
  readonly overflow = new Map<string, number>();

  /** Throws `ConfigError` on bad options (unknown keys included). */
  constructor(options: AttributionOptions = {}, origin = 'options.attribution') {
    this.dimensions = validateAttributionOptions(options, origin);
    this.keys = this.dimensions.copiedKeys;
    this.trusted = trustedKeys(options.trustBaggage, this.dimensions, `${origin}.trustBaggage`);
    this.maxLength = options.maxValueLength ?? 64;
    this.maxValues = options.maxValuesPerDimension ?? 1000;
  }

  /** A safe value for a dimension, or undefined when nothing usable is left. */
  sanitise(key: string, raw: unknown): string | undefined {
    const given = dimensionValue(raw);
    if (given === undefined) return undefined;
    const value = given.trim().slice(0, this.maxLength).replace(UNSAFE, '_');
    if (/^_+$/.test(value)) return undefined;
    let values = this.seen.get(key);
    if (values === undefined) {
      values = new Set();
      this.seen.set(key, values);
    }
    if (values.has(value)) return value;
    if (values.size >= this.maxValues) {
      this.overflow.set(key, (this.overflow.get(key) ?? 0) + 1);
      return OTHER;
    }
    values.add(value);
    return value;
  }

  /** Dimensions for a span starting in `parentContext` of a service with `resource`
   * attributes: values set in this process (`withAttribution`) over trusted inbound baggage
   * over the resource (the service's owner). */
  forSpan(
    parentContext: Context,
    resource: { attributes: Attributes } | undefined,
  ): Attributes | undefined {
    // The common case first and inline: the service's one resource, and nothing in the context
    // to read (no withAttribution yet, no trusted baggage keys).
    const base =
      resource === undefined
        ? undefined
        : resource === this.lastResource
          ? this.lastDims
          : this.fromResource(resource);
    // The empty context (a span started outside any, as in a job or a script) holds neither.
    if ((!localEverSet && this.trusted.length === 0) || parentContext === ROOT_CONTEXT) {
      return base;
    }
    const local = localEverSet
      ? (parentContext.getValue(LOCAL) as Readonly<Record<string, string>> | undefined)
      : undefined;
    const baggage = this.trusted.length > 0 ? propagation.getBaggage(parentContext) : undefined;
    if (baggage === undefined && local === undefined) return base;
    return this.merged(base, local, baggage);
  }

  /** The resource's dimensions overlaid with trusted baggage and local values (apart from
   * forSpan so that its common path, with neither, allocates nothing). */
  private merged(
    base: Attributes | undefined,
    local: Readonly<Record<string, string>> | undefined,
    baggage: Baggage | undefined,
  ): Attributes | undefined {
    let out: Attributes | undefined;
    const put = (key: string, raw: unknown): void => {
      const value = this.sanitise(key, raw);
      if (value === undefined) return;
      // The resource's dimensions are shared by every span: copy before adding to them.
      out ??= base !== undefined ? { ...base } : {};
      out[key] = value;
    };
    if (baggage !== undefined) {
      for (const key of this.trusted) {
        if (local?.[key] !== undefined) continue;
        const entry = baggage.getEntry(key);
        if (entry !== undefined) put(key, entry.value);
      }
    }
    if (local !== undefined) {
      for (const key of this.keys) if (local[key] !== undefined) put(key, local[key]);
    }
    return out ?? base;
  }

  // A service has one resource: remember the last one so the common case is one comparison.
  private lastResource: object | undefined;
  private lastDims: Attributes | undefined;

  private fromResource(resource: { attributes: Attributes }): Attributes | undefined {
    let cached = this.resourceCache.get(resource);
    if (cached === undefined) {
      cached = {};
      const attrs = resource.attributes;
      for (const key of this.keys) {
        const value = this.sanitise(key, attrs[key]);
        if (value !== undefined) cached[key] = value;
      }
      this.resourceCache.set(resource, cached);
    }
    this.lastResource = resource;
    this.lastDims = Object.keys(cached).length > 0 ? cached : undefined;
    return this.lastDims;
  }
}

/** The attribute key of a `withAttribution` entry: a built-in name, or an extra's key. */
function keyOfEntry(name: string): string {
  const builtin = BUILTIN.all.find((d) => d.copied && d.name === name);
  if (builtin !== undefined) return builtin.key;
  if (name.includes('.')) {
    try {
      createDimensions([name], 'withAttribution');
      return name;
    } catch (e) {
      throw new TypeError((e as Error).message);
    }
  }
  const names = BUILTIN.all.filter((d) => d.copied).map((d) => d.name);
  throw new TypeError(
    `spanledger: withAttribution: unknown dimension ${JSON.stringify(name)} (known: ${names.join(', ')}; extra dimensions by attribute key, e.g. 'spanledger.region')`,
  );
}

/**
 * Run `fn` with attribution dimensions, so every span it starts is attributed to them: in this
 * process whatever the baggage trust setting (the values are marked as set here), and in
 * downstream services through W3C Baggage (where their own trust setting decides). Built-in
 * dimensions by name (`tenant`), extra ones by attribute key (`'spanledger.region'`); blank and
 * undefined values are skipped. Returns what `fn` returns. Throws a `TypeError` on an unknown
 * dimension or a value that is not a string.
 */
export function withAttribution<T>(
  dimensions: AttributionDimensions,
  fn: () => T,
  parent: Context = context.active(),
): T {
  if (typeof dimensions !== 'object' || dimensions === null || Array.isArray(dimensions)) {
    throw new TypeError(
      'spanledger: withAttribution: the first argument must be an object of dimensions',
    );
  }
  if (typeof fn !== 'function') {
    throw new TypeError('spanledger: withAttribution: the second argument must be a function');
  }
  let baggage = propagation.getBaggage(parent) ?? propagation.createBaggage();
  const local: Record<string, string> = {
    ...(parent.getValue(LOCAL) as Record<string, string> | undefined),
  };
  for (const [name, raw] of Object.entries(dimensions)) {
    const key = keyOfEntry(name);
    if (raw !== undefined && typeof raw !== 'string') {
      throw new TypeError(
        `spanledger: withAttribution: ${name} must be a string, got ${typeof raw}`,
      );
    }
    const value = dimensionValue(raw);
    if (value === undefined) continue;
    baggage = baggage.setEntry(key, { value });
    local[key] = value;
  }
  localEverSet = true;
  return context.with(propagation.setBaggage(parent, baggage).setValue(LOCAL, local), fn);
}
