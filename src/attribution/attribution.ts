/**
 * Attribution: who caused the spend. Dimensions (team, cost center, tenant, use case) come from
 * the service's resource (ownership) and from W3C Baggage (the request, across service hops),
 * and are copied onto every span at start, so cost attributes, rollups and budgets can be
 * grouped by them. Inbound baggage is client-controlled: values are sanitised, only allowed
 * keys count, and each dimension has a cardinality cap beyond which values become `__other__`.
 */
import { type Attributes, type Context, context, propagation } from '@opentelemetry/api';
import * as A from '../semconv.js';

/** The fixed attribution dimensions (SPEC section 2) by their short names. */
export const ATTRIBUTION_KEYS = A.ATTRIBUTION_DIMENSIONS;

/** Attribution values, by short name. */
export type AttributionDimensions = Partial<Record<keyof typeof ATTRIBUTION_KEYS, string>>;

/** Value of a dimension past its cardinality cap. */
export const OTHER = '__other__';

/** Options of the attribution applied to every span. */
export interface AttributionOptions {
  /** Whether inbound baggage counts: `true` (the fixed keys and `extraDimensions`), `false`
   * (resource attributes only: for services at a trust boundary), or the keys to accept.
   * Default true. */
  trustBaggage?: boolean | readonly string[];
  /** More dimension attribute keys copied like the fixed ones (e.g. `spanledger.region`). */
  extraDimensions?: readonly string[];
  /** Longer values are cut to this many characters. Default 64. */
  maxValueLength?: number;
  /** Distinct values kept per dimension; later new values become `__other__`. Default 1000. */
  maxValuesPerDimension?: number;
}

// Letters, digits and a few separators; anything else (control characters, quotes, spaces,
// markup) becomes `_`, so a value is safe as a metric label and a ledger key part.
const UNSAFE = /[^A-Za-z0-9._:/@+-]/g;

/** Copies attribution dimensions onto spans; bounded per dimension. */
export class Attribution {
  private readonly keys: readonly string[];
  private readonly trusted: ReadonlySet<string>;
  private readonly maxLength: number;
  private readonly maxValues: number;
  private readonly seen = new Map<string, Set<string>>();
  private readonly resourceCache = new WeakMap<object, Attributes>();
  /** Values replaced by `__other__` since start, per dimension key. */
  readonly overflow = new Map<string, number>();

  constructor(options: AttributionOptions = {}) {
    this.keys = [...Object.values(ATTRIBUTION_KEYS), ...(options.extraDimensions ?? [])];
    const trust = options.trustBaggage ?? true;
    this.trusted = new Set(trust === true ? this.keys : trust === false ? [] : trust);
    this.maxLength = options.maxValueLength ?? 64;
    this.maxValues = options.maxValuesPerDimension ?? 1000;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 1) {
      throw new RangeError(
        `spanledger: maxValueLength must be a positive integer, got ${this.maxLength}`,
      );
    }
    if (!Number.isInteger(this.maxValues) || this.maxValues < 1) {
      throw new RangeError(
        `spanledger: maxValuesPerDimension must be a positive integer, got ${this.maxValues}`,
      );
    }
  }

  /** A safe value for a dimension, or undefined when nothing usable is left. */
  sanitise(key: string, raw: unknown): string | undefined {
    if (typeof raw !== 'string') return undefined;
    const value = raw.trim().slice(0, this.maxLength).replace(UNSAFE, '_');
    if (value === '' || /^_+$/.test(value)) return undefined;
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
   * attributes: baggage (the request) over resource (the service's owner). */
  forSpan(
    parentContext: Context,
    resource: { attributes: Attributes } | undefined,
  ): Attributes | undefined {
    const base = resource !== undefined ? this.fromResource(resource) : undefined;
    const baggage = this.trusted.size > 0 ? propagation.getBaggage(parentContext) : undefined;
    if (baggage === undefined) return base;
    let out: Attributes | undefined;
    for (const key of this.trusted) {
      const entry = baggage.getEntry(key);
      if (entry === undefined) continue;
      const value = this.sanitise(key, entry.value);
      if (value === undefined) continue;
      // The resource's dimensions are shared by every span: copy before adding to them.
      out ??= base !== undefined ? { ...base } : {};
      out[key] = value;
    }
    return out ?? base;
  }

  // A service has one resource: remember the last one so the common case is one comparison.
  private lastResource: object | undefined;
  private lastDims: Attributes | undefined;

  private fromResource(resource: { attributes: Attributes }): Attributes | undefined {
    if (resource === this.lastResource) return this.lastDims;
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

/**
 * Run `fn` with attribution dimensions in W3C Baggage, so every span it starts (here and in
 * downstream services that propagate baggage) is attributed to them. Returns what `fn` returns.
 */
export function withAttribution<T>(
  dimensions: AttributionDimensions,
  fn: () => T,
  parent: Context = context.active(),
): T {
  let baggage = propagation.getBaggage(parent) ?? propagation.createBaggage();
  for (const [name, key] of Object.entries(ATTRIBUTION_KEYS)) {
    const value = dimensions[name as keyof typeof ATTRIBUTION_KEYS];
    if (typeof value === 'string' && value !== '') baggage = baggage.setEntry(key, { value });
  }
  return context.with(propagation.setBaggage(parent, baggage), fn);
}
