/**
 * OpenAI client instrumentation that makes every call priceable exactly, with one span per call.
 *
 * The contrib `@opentelemetry/instrumentation-openai` records input and output tokens only: a
 * prompt-cache hit is priced as full input, and reasoning is invisible. It also patches `openai`
 * `<7` only. This instrumentation patches the client's `post` method, which every resource's
 * `create` calls (`this._client.post('/chat/completions', ...)`), for the four inference paths:
 *
 * - when the active span is a recording span of the contrib instrumentation (its `create` wrapper
 *   runs the original inside `context.with(spanContext)`, so `post` always sees it, whatever the
 *   order the two were enabled in), that span is ENRICHED with the cache-read and reasoning counts
 *   and the response's service tier: written before the contrib ends it, or, when spanledger's
 *   cost processor accounts for the span, left on it for the processor to write at its end
 *   (src/usage/openai-response.ts);
 * - otherwise (openai 7, or no contrib) it starts its OWN span with the GenAI semconv names, ended
 *   exactly once on the result, at the end or abort of a stream, or on an error.
 *
 * How the result is observed (checked against openai 4 to 6 and 7.57): `post` returns an
 * `APIPromise` that parses lazily, and `_thenUnwrap` (Responses, embeddings; in openai 7 also
 * Chat Completions) builds a second promise. A `.then` on the first promise would read the
 * response body twice, so the instrumentation wraps `parseResponse` instead: it runs inside the
 * parse chain, before any `.then` of the application or of the contrib (which ends its span
 * there). In openai 4 to 6 the second promise calls the first one's `parseResponse`; in openai 7
 * it calls the client's parse function directly, so `_thenUnwrap` is wrapped too and the promises
 * it returns are observed the same way (the first parsed body of a call settles it).
 * A stream's `iterator` is wrapped the way the contrib wraps it; the contrib wraps the returned
 * stream afterwards, so its iteration runs through this one and ends its span after this one has
 * seen the last (usage) chunk. Errors are seen on `responsePromise`, replaced by a derived promise
 * that rejects the same way (an unconsumed call still reports its rejection as unhandled).
 *
 * Nothing here throws into the application: every step is guarded and problems are reported
 * once through the OTel diag logger.
 */
import {
  type Attributes,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import {
  InstrumentationBase,
  type InstrumentationConfig,
  InstrumentationNodeModuleDefinition,
} from '@opentelemetry/instrumentation';
import { processReporter, type Reporter } from '../diag.js';
import { AttributeWriter } from '../processor/attribute-writer.js';
import * as A from '../semconv.js';
import { callProvider } from '../usage/normalize.js';
import { leaveOpenAIUsage, writeOpenAIUsage } from '../usage/openai-response.js';
import { VERSION } from '../version.js';

/** Configuration of {@link OpenAIUsageInstrumentation}: the standard instrumentation options
 * (`enabled`). */
export type OpenAIUsageInstrumentationConfig = InstrumentationConfig;

/** Instrumentation scope name of the spans this instrumentation starts itself. */
export const OPENAI_USAGE_INSTRUMENTATION_NAME = 'spanledger-instrumentation-openai';
/** Scope of the contrib instrumentation whose spans are enriched rather than duplicated. */
const CONTRIB_SCOPE = '@opentelemetry/instrumentation-openai';

/** The inference paths and their GenAI operation names. */
const OPERATIONS: Readonly<Record<string, string>> = {
  '/chat/completions': 'chat',
  '/responses': 'chat',
  '/embeddings': 'embeddings',
  '/completions': 'text_completion',
};

type AnyFunction = (...args: unknown[]) => unknown;
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null;
const text = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : undefined;

/** The response object that a chunk or event describes: a Responses stream event wraps it. */
function responseOf(item: unknown): Obj | undefined {
  if (!isObj(item)) return undefined;
  if (typeof item.type === 'string' && isObj(item.response)) return item.response;
  return item;
}

/** One API call: the span it records on, its own or the contrib's. */
class Call {
  private ended = false;
  private claimed = false;
  private responseModel = false;

  constructor(
    readonly span: Span,
    /** Whether this instrumentation started the span (and so ends it). */
    readonly own: boolean,
    private readonly operation: string,
  ) {}

  /** The request options, once known (openai 7 resolves them asynchronously). */
  request(opts: unknown): void {
    if (!this.own || !isObj(opts) || !isObj(opts.body)) return;
    const model = text(opts.body.model);
    if (model === undefined) return;
    this.span.setAttribute(A.ATTR_GEN_AI_REQUEST_MODEL, model);
    this.span.updateName(`${this.operation} ${model}`);
  }

  /** A parsed response body, a stream chunk or a stream event. */
  observe(item: unknown): void {
    if (this.ended) return;
    const response = responseOf(item);
    if (!response) return;
    const tier = text(response.service_tier);
    // On the contrib's span, when the cost processor accounts for it, the usage is left for its
    // batch to write (src/usage/openai-response.ts): two stores here.
    if (!this.own && leaveOpenAIUsage(this.span, response, tier)) return;
    // The span is not ended yet (the contrib ends its own after this; an own span ends below):
    // the values are ones this code checked, so they are stored without the SDK's per-call
    // validation, as the cost processor stores its own (src/processor/attribute-writer.ts).
    const out = new AttributeWriter(this.span);
    if (this.own) {
      const model = text(response.model);
      if (model !== undefined && !this.responseModel) {
        this.responseModel = true;
        out.set(A.ATTR_GEN_AI_RESPONSE_MODEL, model);
      }
      const id = text(response.id);
      if (id !== undefined) out.set(A.ATTR_GEN_AI_RESPONSE_ID, id);
    }
    if (tier !== undefined) out.set(A.ATTR_OPENAI_RESPONSE_SERVICE_TIER, tier);
    if (isObj(response.usage)) writeOpenAIUsage(response.usage, out, this.own);
  }

  /** True for the first parsed body of the call only: a body parsed through a promise derived
   * from another (`_thenUnwrap`) has already been seen, or is the transformed copy of one. */
  claim(): boolean {
    if (this.claimed) return false;
    this.claimed = true;
    return true;
  }

  /** Ends an own span (once); a contrib span is ended by the contrib. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.own) this.span.end();
  }

  fail(err: unknown): void {
    if (this.ended) return;
    if (this.own) {
      const type = (isObj(err) && text(err.constructor.name)) || '_OTHER';
      this.span.setAttribute(A.ATTR_ERROR_TYPE, type);
      this.span.setStatus({
        code: SpanStatusCode.ERROR,
        message: err instanceof Error ? err.message : String(err),
      });
    }
    this.end();
  }
}

/** `server.address` and `server.port` from the client's base URL. */
function serverAttributes(baseURL: unknown): Attributes {
  if (typeof baseURL !== 'string') return {};
  try {
    const url = new URL(baseURL);
    const attrs: Attributes = { [A.ATTR_SERVER_ADDRESS]: url.hostname };
    if (url.port !== '') attrs[A.ATTR_SERVER_PORT] = Number(url.port);
    return attrs;
  } catch {
    return {};
  }
}

/** Azure OpenAI hosts are priced under their own provider name (the usage layer's rule). */
function providerOf(address: unknown): string {
  return callProvider('openai', address) ?? 'openai';
}

/** The client class in a CommonJS `require('openai')` or an ESM namespace. */
function clientClass(exports: unknown): { prototype: Obj } | undefined {
  if (!isObj(exports) && typeof exports !== 'function') return undefined;
  const mod = exports as Obj;
  const defaults = mod.default as Obj | undefined;
  for (const candidate of [mod.OpenAI, defaults?.OpenAI, mod.default]) {
    if (typeof candidate === 'function' && typeof candidate.prototype?.post === 'function') {
      return candidate as { prototype: Obj };
    }
  }
  return undefined;
}

/**
 * Records exact OpenAI usage (cached input, reasoning, service tier) for spanledger to price,
 * with one span per call. Register it beside the contrib `OpenAIInstrumentation` for openai 4 to
 * 6 (it enriches the contrib's spans), or alone for openai 7 (it starts its own spans). The
 * registration order does not matter.
 *
 * ```ts
 * new NodeSDK({
 *   spanProcessors: [ledger.processor, ...],
 *   instrumentations: [new OpenAIUsageInstrumentation(), new OpenAIInstrumentation()],
 * });
 * ```
 *
 * Streaming chat calls report usage only when asked: pass `stream_options: { include_usage:
 * true }`, or the span is left unpriced with reason `no_usage` (never priced at $0).
 */
export class OpenAIUsageInstrumentation extends InstrumentationBase<OpenAIUsageInstrumentationConfig> {
  // The process-wide reporter: this instrumentation patches `openai` for the whole process, and
  // every ledger's stats() includes its counts.
  private readonly problems = processReporter();

  constructor(config: OpenAIUsageInstrumentationConfig = {}) {
    super(OPENAI_USAGE_INSTRUMENTATION_NAME, VERSION, config);
  }

  protected override init(): InstrumentationNodeModuleDefinition[] {
    return [
      new InstrumentationNodeModuleDefinition(
        'openai',
        ['>=4 <8'],
        (exports: unknown, moduleVersion?: string) => {
          const cls = clientClass(exports);
          // openai 4 to 6 derive promises through the first one's parse: watching it is enough
          // (see watchPromise). An unknown version is treated as 7.
          const derives = moduleVersion === undefined || Number(moduleVersion.split('.')[0]) >= 7;
          if (cls)
            this._wrap(cls.prototype, 'post', (original) =>
              this.patchedPost(original as AnyFunction, derives),
            );
          else this.problems.count('openai_client_not_found', 'no OpenAI.prototype.post to patch');
          return exports;
        },
        (exports: unknown) => {
          const cls = clientClass(exports);
          if (cls) this._unwrap(cls.prototype, 'post');
        },
      ),
    ];
  }

  private patchedPost(original: AnyFunction, derives: boolean): AnyFunction {
    const self = this;
    return function post(this: unknown, ...args: unknown[]): unknown {
      let call: Call | undefined;
      try {
        call = self.isEnabled() ? self.begin(this, args[0], args[1]) : undefined;
      } catch (err) {
        self.problems.count('openai_instrumentation_error', String(err));
      }
      if (!call) return original.apply(this, args);
      let result: unknown;
      try {
        result = call.own
          ? context.with(trace.setSpan(context.active(), call.span), () =>
              original.apply(this, args),
            )
          : original.apply(this, args);
      } catch (err) {
        call.fail(err);
        throw err;
      }
      try {
        self.watch(call, result, derives);
      } catch (err) {
        self.problems.count('openai_instrumentation_error', String(err));
      }
      return result;
    };
  }

  /** The span to record this call on, or undefined when the call is not observed. */
  private begin(client: unknown, path: unknown, opts: unknown): Call | undefined {
    const operation = typeof path === 'string' ? OPERATIONS[path] : undefined;
    if (operation === undefined) return undefined;
    const active = trace.getActiveSpan();
    if (active !== undefined && !active.spanContext().isRemote) {
      // An unsampled local span records nothing (a child would not be sampled either), and a
      // span of this instrumentation means a second copy of it is patched in: neither gets a
      // span of its own. A remote parent (extracted context) does.
      if (!active.isRecording()) return undefined;
      const scope = scopeName(active);
      if (scope === OPENAI_USAGE_INSTRUMENTATION_NAME) return undefined;
      if (scope === CONTRIB_SCOPE) return new Call(active, false, operation);
    }
    const server = serverAttributes(isObj(client) ? client.baseURL : undefined);
    const span = this.tracer.startSpan(operation, {
      kind: SpanKind.CLIENT,
      attributes: {
        [A.ATTR_GEN_AI_OPERATION_NAME]: operation,
        [A.ATTR_GEN_AI_PROVIDER_NAME]: providerOf(server[A.ATTR_SERVER_ADDRESS]),
        ...server,
      },
    });
    const call = new Call(span, true, operation);
    if (isObj(opts) && typeof opts.then !== 'function') call.request(opts);
    else {
      Promise.resolve(opts).then(
        (resolved) => guard(this.problems, () => call.request(resolved)),
        () => {},
      );
    }
    return call;
  }

  /** Observe the APIPromise that `post` returned: its parsed result, stream or error. */
  private watch(call: Call, result: unknown, derives: boolean): void {
    if (!isObj(result) || typeof result.parseResponse !== 'function') {
      this.problems.count('openai_unexpected_promise', 'post() returned no APIPromise');
      call.end();
      return;
    }
    watchPromise(call, result, this.problems, derives);
  }
}

/**
 * Observes one APIPromise of a call and, through `_thenUnwrap`, every promise derived from it.
 *
 * openai 4 to 6 build a derived promise on the first one's `responsePromise` and `parseResponse`
 * (both wrapped here), so watching the first promise sees everything. openai 7 does not: its
 * client gives each APIPromise an own `_thenUnwrap` that builds the derived promise from the raw
 * request promise and the client's parse function, bypassing both, and Chat Completions,
 * Responses and (default base64) embeddings all return such a derived promise. So each derived
 * promise is watched too; the first parsed body settles the call (`Call.claim`) and the derived
 * promises' own bodies are then ignored.
 */
function watchPromise(call: Call, promise: Obj, problems: Reporter, derives: boolean): void {
  let observed: Promise<unknown> | undefined;
  if (call.own && promise.responsePromise instanceof Promise) {
    // Rejects like the original, so an unconsumed call still reports its rejection as unhandled.
    observed = promise.responsePromise.then(undefined, (err: unknown) => {
      guard(problems, () => call.fail(err));
      throw err;
    });
    promise.responsePromise = observed;
  }
  // Only openai 7 builds derived promises around the wrapped parse: in 4 to 6, leaving
  // `_thenUnwrap` alone saves a closure and an own property on every call's promise.
  const unwrap = derives ? promise._thenUnwrap : undefined;
  if (typeof unwrap === 'function') {
    promise._thenUnwrap = function _thenUnwrap(this: unknown, ...args: unknown[]) {
      const derived = (unwrap as AnyFunction).apply(this, args);
      guard(problems, () => {
        // The derived promise is consumed in place of this one, whose `responsePromise` openai 7
        // does not read: the derived promise's own replacement reports an unhandled rejection.
        observed?.catch(() => {});
        if (isObj(derived) && typeof derived.parseResponse === 'function') {
          watchPromise(call, derived, problems, derives);
        }
      });
      return derived;
    };
  }
  const parse = promise.parseResponse as AnyFunction;
  promise.parseResponse = function parseResponse(this: unknown, ...args: unknown[]) {
    let parsed: unknown;
    try {
      parsed = parse.apply(this, args);
    } catch (err) {
      guard(problems, () => call.fail(err));
      throw err;
    }
    return Promise.resolve(parsed).then(
      (body) => {
        guard(problems, () => {
          if (call.claim()) settle(call, body, problems);
        });
        return body;
      },
      (err: unknown) => {
        guard(problems, () => call.fail(err));
        throw err;
      },
    );
  };
}

/** A parsed body: a stream is observed as it is read; anything else settles the call now. */
function settle(call: Call, body: unknown, problems: Reporter): void {
  const stream = body as Obj;
  if (isObj(body) && typeof stream.iterator === 'function' && 'controller' in stream) {
    const iterator = stream.iterator as () => AsyncIterator<unknown>;
    stream.iterator = function observedIterator(this: unknown) {
      return observeStream(iterator.call(this), call, problems);
    };
    return;
  }
  call.observe(body);
  call.end();
}

/** Yields the stream's items unchanged; records usage as it passes and ends the call once. */
async function* observeStream(
  iterator: AsyncIterator<unknown>,
  call: Call,
  problems: Reporter,
): AsyncGenerator<unknown> {
  try {
    for await (const item of { [Symbol.asyncIterator]: () => iterator }) {
      guard(problems, () => call.observe(item));
      yield item;
    }
  } catch (err) {
    guard(problems, () => call.fail(err));
    throw err;
  } finally {
    guard(problems, () => call.end());
  }
}

function guard(problems: Reporter, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    problems.count('openai_instrumentation_error', String(err));
  }
}

/** The instrumentation scope of an SDK span (2.x `instrumentationScope`, 1.x
 * `instrumentationLibrary`). */
function scopeName(span: Span): string | undefined {
  const s = span as unknown as {
    instrumentationScope?: { name?: string };
    instrumentationLibrary?: { name?: string };
  };
  return (s.instrumentationScope ?? s.instrumentationLibrary)?.name;
}
