/**
 * How the processor writes its attributes on a span. `Span.setAttribute` validates every value
 * (in `sdk-trace` 3.x an options object and a `WeakSet` per call): on a real OpenAI chat call
 * about a third of what `onEnding` cost (docs/performance.md, subsection "Attributes written
 * without the SDK's validation"). spanledger writes only values it built itself (finite
 * numbers, short strings, arrays of them), so on an SDK span it stores them as the SDK would,
 * straight into the span's `attributes`, keeping the SDK's attribute count. Whatever the SDK
 * would do differently (drop a key at the count limit, truncate a string over the length limit,
 * warn about a bad limit) and any span that is not the SDK's goes through `setAttribute`, so
 * `droppedAttributesCount`, the truncation and the SDK's warnings stay the SDK's own.
 *
 * The fields read are the SDK's `SpanImpl` internals, the same on both supported lines
 * (`sdk-trace` 2.12 and 3.1): `_ended`, `attributes`, `_attributesCount`, `_spanLimits`, and on
 * 2.x `_attributeValueLengthLimit`. They are feature-detected once per writer; a span without
 * them, or with anything unexpected in them, gets the slow path.
 */

import type { AttributeValue } from '@opentelemetry/api';

/** A value spanledger writes: a number, a string, or an array of either. */
export type LedgerValue = number | string | readonly string[] | readonly number[];

/** Where the rollups write their attributes (an {@link AttributeWriter}). */
export interface AttributeSink {
  /** Set `key` to `value` on the span, as `Span.setAttribute` would. */
  set(key: string, value: LedgerValue): void;
}

/** The part of a span the slow path needs: the public API. */
interface AttributeSetter {
  setAttribute(key: string, value: AttributeValue): unknown;
}

/** The SDK's `SpanImpl` fields the fast path reads and updates. */
interface SpanInternals {
  _attributesCount: number;
}

const hasOwn = Object.prototype.hasOwnProperty;

/** Stores one property, by a name fixed in its code. */
type NamedStore = (o: Record<string, unknown>, v: unknown) => void;

/** Keys with a store of their own, at most; later keys are stored by computed key. */
const MAX_NAMED_STORES = 512;
const namedStores = new Map<string, NamedStore | null>();

/**
 * A store for `key` written with the key literally in its code (`o["spanledger.cost.usd"] = v`),
 * or null. Why: V8 keeps an object's properties fast for about 128 properties added by name but
 * only 19 added by computed key, after which the object becomes a hash table
 * (docs/performance.md, "2026-12-01: stores by name"); the exporters' encoders then
 * walk a chat span's 43 attributes through the hash table's slow paths. The key is embedded as a
 * JSON string literal, which is always a valid JavaScript literal. Null when the process forbids
 * code from strings (`--disallow-code-generation-from-strings`) or past the cap.
 */
function namedStore(key: string): NamedStore | null {
  let store = namedStores.get(key);
  if (store !== undefined) return store;
  store = null;
  if (namedStores.size < MAX_NAMED_STORES) {
    try {
      // Strict, like this module's own stores: a write the object refuses throws, and `set`
      // falls back to setAttribute.
      store = new Function('o', 'v', `'use strict'; o[${JSON.stringify(key)}] = v;`) as NamedStore;
    } catch {
      store = null;
    }
    namedStores.set(key, store);
  }
  return store;
}

/**
 * Writes attributes on one span for the length of one processor callback (`onStart` or
 * `onEnding`, while the span cannot end), or of one synchronous step of an instrumentation on a
 * span not yet ended (the OpenAI usage instrumentation's). Never throws on its own: a fast write
 * that fails falls back to `setAttribute`.
 */
export class AttributeWriter implements AttributeSink {
  private readonly span: AttributeSetter;
  /** The span's `attributes`, or undefined: every write through `setAttribute`. */
  private readonly attrs: Record<string, unknown> | undefined;
  private readonly internals: SpanInternals;
  /** The SDK's attribute count limit (Infinity when it has none). */
  private readonly countLimit: number;
  /** The longest string the SDK stores whole (Infinity when it does not truncate). */
  private readonly lengthLimit: number;

  constructor(span: AttributeSetter) {
    this.span = span;
    this.internals = span as unknown as SpanInternals;
    this.countLimit = Number.POSITIVE_INFINITY;
    this.lengthLimit = Number.POSITIVE_INFINITY;
    let attrs: Record<string, unknown> | undefined;
    try {
      const s = span as unknown as Record<string, unknown>;
      const a = s.attributes;
      const limits = s._spanLimits as Record<string, unknown> | null | undefined;
      if (
        s._ended === false &&
        hasOwn.call(s, 'attributes') &&
        typeof a === 'object' &&
        a !== null &&
        isPlain(a) &&
        Object.isExtensible(a) &&
        Number.isInteger(s._attributesCount) &&
        typeof limits === 'object' &&
        limits !== null
      ) {
        // Both lines: no count limit set means none (a comparison with undefined is false).
        const count = limits.attributeCountLimit ?? Number.POSITIVE_INFINITY;
        // 2.x truncates with its own copy of the limit (0 when unset: it then warns on every
        // write); 3.x reads the limits (unset: no truncation; not positive: warns, ignores it).
        const length =
          '_attributeValueLengthLimit' in s
            ? s._attributeValueLengthLimit
            : (limits.attributeValueLengthLimit ?? Number.POSITIVE_INFINITY);
        if (typeof count === 'number' && count >= 0 && typeof length === 'number' && length > 0) {
          this.countLimit = count;
          this.lengthLimit = length;
          attrs = a as Record<string, unknown>;
        }
      }
    } catch {
      attrs = undefined;
    }
    this.attrs = attrs;
  }

  /** True when writes go straight into the span's attributes (for tests and benches). */
  get fast(): boolean {
    return this.attrs !== undefined;
  }

  set(key: string, value: LedgerValue): void {
    const attrs = this.attrs;
    if (attrs !== undefined) {
      try {
        if (this.store(attrs, key, value)) return;
      } catch {
        // A property the SDK could not have set either: let setAttribute decide.
      }
    }
    // api 1.9 types attribute arrays as mutable, 1.10 as readonly: the SDK copies them either way.
    this.span.setAttribute(key, value as AttributeValue);
  }

  /** Store as the SDK would; false when the SDK would do more than store (slow path). */
  private store(attrs: Record<string, unknown>, key: string, value: LedgerValue): boolean {
    let stored: unknown = value;
    if (typeof value === 'string') {
      if (value.length > this.lengthLimit) return false;
    } else if (typeof value !== 'number') {
      // Both SDKs store a copy of an array (a caller may change its own afterwards).
      stored = this.copy(value);
      if (stored === undefined) return false;
    }
    if (key.length === 0) return false;
    if (hasOwn.call(attrs, key)) {
      attrs[key] = stored;
      return true;
    }
    const internals = this.internals;
    // At the limit the SDK drops the key and counts the drop: its path, not ours.
    if (internals._attributesCount >= this.countLimit) return false;
    const named = namedStore(key);
    if (named !== null) named(attrs, stored);
    else attrs[key] = stored;
    internals._attributesCount++;
    return true;
  }

  /** A copy of a homogeneous array of numbers or of strings the SDK would not truncate. */
  private copy(value: readonly string[] | readonly number[]): unknown[] | undefined {
    if (!Array.isArray(value)) return undefined;
    const first = typeof value[0];
    if (first !== 'string' && first !== 'number' && value.length > 0) return undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v !== first) return undefined;
      if (typeof v === 'string' && v.length > this.lengthLimit) return undefined;
    }
    return value.slice();
  }
}

function isPlain(o: object): boolean {
  const proto = Object.getPrototypeOf(o);
  return proto === Object.prototype || proto === null;
}
