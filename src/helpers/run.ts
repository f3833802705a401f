/**
 * What every helper shares: option checks (once, at the call: a bad option is a TypeError), a
 * span started as the active span around `fn`, ended exactly once whether `fn` returns, throws
 * or rejects, with status ERROR and `error.type` on failure. Telemetry itself never throws.
 */
import {
  type Attributes,
  diag,
  type Span,
  type SpanKind,
  SpanStatusCode,
  type TimeInput,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { type Check, checkOptionObject, shown } from '../options.js';
import * as A from '../semconv.js';
import { VERSION } from '../version.js';

/** Options every helper takes. */
export interface HelperOptions {
  /** The tracer that starts the span. Default: `trace.getTracer('spanledger', VERSION)`. */
  tracer?: Tracer;
  /** More attributes for the span, set at start (the helper's own attributes win). */
  attributes?: Attributes;
}

/** A non-empty string. */
export const text: Check = (v) =>
  typeof v === 'string' && v !== '' ? undefined : 'must be a non-empty string';
/** A finite number, zero or more. */
export const amount: Check = (v) =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0
    ? undefined
    : 'must be a finite number >= 0';
/** One of some strings. */
export const oneOf =
  (...values: string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? undefined : `must be one of ${values.join(', ')}`;

const COMMON: Record<keyof HelperOptions, Check> = {
  tracer: (v) =>
    typeof v === 'object' && v !== null && typeof (v as Tracer).startActiveSpan === 'function'
      ? undefined
      : 'must be an OpenTelemetry Tracer',
  attributes: (v) => (typeof v === 'object' && v !== null ? undefined : 'must be an object'),
};

/** Check a helper's options (`common`: the keys every helper takes), as strictly as the
 * configuration files: an unknown key or a bad value throws a TypeError
 * `spanledger: <helper>: invalid options: <key>: <why>`, naming the known keys. */
export function checkOptions<O extends HelperOptions>(
  helper: string,
  options: O | undefined,
  checks: Record<string, Check>,
  common: Record<string, Check> = COMMON,
): O {
  return checkOptionObject<O>(helper, options, { ...common, ...checks });
}

/** Check a helper's arguments `(name, options, fn)`: the name part, the function (a function
 * given in the place of the options, with none after it, is named as such: the options are not
 * optional) and the options (unknown keys and bad values throw a TypeError naming both). */
export function checkArgs<O extends HelperOptions>(
  helper: string,
  what: string,
  name: unknown,
  options: O | undefined,
  checks: Record<string, Check>,
  fn: unknown,
): O {
  checkName(helper, what, name);
  if (typeof fn !== 'function') {
    if (typeof options === 'function' && fn === undefined) {
      throw new TypeError(
        `spanledger: ${helper}(${what}, options, fn): the function was given as the options argument; pass options ({} for none) before it`,
      );
    }
    throw new TypeError(
      `spanledger: ${helper}(${what}, options, fn): fn must be a function, got ${shown(fn)}`,
    );
  }
  return checkOptions(helper, options, checks);
}

/** Check a span name part (the helper's first argument). */
export function checkName(helper: string, what: string, value: unknown): void {
  if (text(value) !== undefined) {
    throw new TypeError(`spanledger: ${helper}: ${what} must be a non-empty string`);
  }
}

/** The span a helper starts. */
export interface SpanSpec {
  name: string;
  kind: SpanKind;
  /** The helper's attributes (they win over `options.attributes`). */
  attributes: Attributes;
  startTime?: TimeInput;
  /** Runs just before the span ends (attributes known only then); returns the end time. */
  beforeEnd?: (span: Span) => TimeInput | undefined;
}

/** The `error.type` of a thrown value: its class name, or `_OTHER` (OTel semconv). */
export function errorType(e: unknown): string {
  if (e instanceof Error) return e.constructor.name !== 'Error' ? e.constructor.name : e.name;
  return '_OTHER';
}

function safely(what: string, action: () => void): void {
  try {
    action();
  } catch (e) {
    diag.warn(`spanledger: helper ${what} failed: ${(e as Error).message}`);
  }
}

function fail(span: Span, e: unknown): void {
  safely('error status', () => {
    span.recordException(e instanceof Error ? e : String(e));
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: e instanceof Error ? e.message : String(e),
    });
    span.setAttribute(A.ATTR_ERROR_TYPE, errorType(e));
  });
}

function end(span: Span, spec: SpanSpec): void {
  let at: TimeInput | undefined;
  safely('end', () => {
    at = spec.beforeEnd?.(span);
  });
  safely('end', () => span.end(at));
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    typeof (v as PromiseLike<unknown>).then === 'function'
  );
}

/** A helper's signature: `(name, options, fn)`, returning what `fn` returns. */
export type SpanHelper<O extends HelperOptions> = <T>(
  name: string,
  options: O | undefined,
  fn: (span: Span) => T,
) => T;

/** Build a helper: checks its arguments once per call, then runs `fn` in the span `spec`
 * describes. `what` names the first argument in errors. */
export function spanHelper<O extends HelperOptions>(
  helper: string,
  what: string,
  checks: Record<string, Check>,
  spec: (name: string, options: O) => SpanSpec,
): SpanHelper<O> {
  return (name, options, fn) => {
    const o = checkArgs(helper, what, name, options, checks, fn);
    return runInSpan(o, spec(name, o), fn);
  };
}

/** Run `fn` inside a new active span; the span ends once, when `fn` returns or settles. Errors
 * are recorded and rethrown. Returns what `fn` returns (its promise, for an async `fn`). */
export function runInSpan<T>(options: HelperOptions, spec: SpanSpec, fn: (span: Span) => T): T {
  const tracer = options.tracer ?? trace.getTracer('spanledger', VERSION);
  const attributes = { ...options.attributes, ...spec.attributes };
  return tracer.startActiveSpan(
    spec.name,
    {
      kind: spec.kind,
      attributes,
      ...(spec.startTime !== undefined ? { startTime: spec.startTime } : {}),
    },
    (span) => {
      let result: T;
      try {
        result = fn(span);
      } catch (e) {
        fail(span, e);
        end(span, spec);
        throw e;
      }
      if (!isThenable(result)) {
        end(span, spec);
        return result;
      }
      return result.then(
        (value) => {
          end(span, spec);
          return value;
        },
        (e: unknown) => {
          fail(span, e);
          end(span, spec);
          throw e;
        },
      ) as T;
    },
  );
}
