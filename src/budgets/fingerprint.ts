/**
 * Loop detection (docs/budgets.md): a fingerprint of a tool call (tool name and canonical arguments), and
 * a bounded per-trace counter of identical calls. An agent calling the same tool with the same
 * arguments again and again is the commonest runaway; `maxRepeatedToolCalls` caps it.
 */
import { createHash } from 'node:crypto';

/** Nesting deeper than this is cut off (`"[deep]"`): arguments are data, not a stack overflow. */
const MAX_DEPTH = 64;

function canonical(value: unknown, depth: number, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      // JSON has no NaN or Infinity; keep them apart from null and from each other.
      return Number.isFinite(value) ? JSON.stringify(value) : JSON.stringify(String(value));
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(`${value}n`);
    case 'undefined':
    case 'function':
    case 'symbol':
      return 'null';
  }
  const obj = value as object;
  if (depth >= MAX_DEPTH) return '"[deep]"';
  if (seen.has(obj)) return '"[circular]"';
  seen.add(obj);
  try {
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      return canonical((toJSON as () => unknown).call(obj), depth + 1, seen);
    }
    if (Array.isArray(obj)) {
      return `[${obj.map((v) => canonical(v, depth + 1, seen)).join(',')}]`;
    }
    if (obj instanceof Map) {
      return canonical(Object.fromEntries(obj), depth + 1, seen);
    }
    if (obj instanceof Set) return canonical([...obj], depth + 1, seen);
    const rec = obj as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(rec).sort()) {
      const v = rec[key];
      // As in JSON: a key whose value is undefined (or a function) is absent.
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      parts.push(`${JSON.stringify(key)}:${canonical(v, depth + 1, seen)}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    seen.delete(obj);
  }
}

/**
 * Canonical JSON of a value: object keys sorted at every level, no whitespace, arrays in
 * order. A string holding JSON (tool arguments usually arrive as a JSON string) is parsed first,
 * so `'{"b":1, "a":2}'`, `'{ "a": 2, "b": 1 }'` and `{ a: 2, b: 1 }` agree. Never throws.
 */
export function canonicalArguments(args: unknown): string {
  let value = args;
  if (typeof args === 'string') {
    try {
      value = JSON.parse(args);
    } catch {
      // Not JSON: the text itself is the argument (compared exactly).
    }
  }
  return canonical(value, 0, new Set());
}

/**
 * Fingerprint of a tool call: the first 16 hex digits (64 bits) of SHA-256 over the tool name and
 * the canonical arguments. Stable across processes and versions of Node.
 */
export function toolCallFingerprint(toolName: string, args: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(toolName))
    .update('\n')
    .update(canonicalArguments(args))
    .digest('hex')
    .slice(0, 16);
}

/** Options of {@link RepeatCounter}. */
export interface RepeatCounterOptions {
  /** Most distinct fingerprints kept per trace. Default 1000. */
  maxDistinct?: number;
}

/**
 * Counts identical tool calls in one trace (create one per trace). Bounded: beyond
 * `maxDistinct` fingerprints the one seen least recently is forgotten. A loop keeps touching its
 * own fingerprint, so it stays counted however many other calls the trace makes.
 */
export class RepeatCounter {
  readonly #counts = new Map<string, number>();
  readonly #max: number;
  #evictions = 0;

  constructor(options: RepeatCounterOptions = {}) {
    const max = options.maxDistinct ?? 1000;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`spanledger: maxDistinct must be a positive integer, got ${max}`);
    }
    this.#max = max;
  }

  /** Record one call; returns how many times this fingerprint has now been seen (1 the first
   * time). */
  record(fingerprint: string): number {
    const n = (this.#counts.get(fingerprint) ?? 0) + 1;
    // Delete and re-insert: Map order is then least recently seen first.
    this.#counts.delete(fingerprint);
    if (this.#counts.size >= this.#max) {
      const oldest = this.#counts.keys().next().value as string;
      this.#counts.delete(oldest);
      this.#evictions++;
    }
    this.#counts.set(fingerprint, n);
    return n;
  }

  /** Times a fingerprint has been seen, without recording (0 if unknown or forgotten). */
  count(fingerprint: string): number {
    return this.#counts.get(fingerprint) ?? 0;
  }

  /** Distinct fingerprints held. */
  get size(): number {
    return this.#counts.size;
  }

  /** Fingerprints forgotten because of the cap. */
  get evictions(): number {
    return this.#evictions;
  }
}
