/**
 * The prices sections of the configuration: user aliases, contract prices, custom models,
 * discounts, service tiers and the unit-price rules for tools, retrievals and human review.
 * Validated once at startup; any problem fails fast naming the origin, the entry and the reason.
 * The file that holds them (with its `budgets:` section) is read and composed in src/config.ts:
 * pricing knows nothing of budgets, and reads no files.
 */
import type { z as Z } from 'zod';
import { ConfigError, describeIssues, lazily, zod } from '../config-file.js';

export { ConfigError };

/** `YYYY-MM-DD` is midnight UTC; a date-time needs an explicit offset so it cannot drift. */
function parseInstant(value: string): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return Date.parse(`${value}T00:00:00Z`);
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(value)) return Date.parse(value);
  return Number.NaN;
}

/** The schemas of the prices sections, built on first validation (zod costs startup time that
 * a service without a prices file never needs: docs/performance.md, "2026-11-30: startup"). */
function buildSchemas() {
  const z = zod();
  const usd = z.number().finite().nonnegative();
  const instant = z.union([z.string(), z.date()]).transform((value, ctx) => {
    const ms = value instanceof Date ? value.getTime() : parseInstant(value);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: `not an ISO date or date-time: ${String(value)}` });
      return z.NEVER;
    }
    return ms;
  });

  const pricePeriod = z
    .object({
      effectiveFrom: instant.optional(),
      inputPerMTok: usd.optional(),
      outputPerMTok: usd.optional(),
      cacheReadPerMTok: usd.optional(),
      cacheWritePerMTok: usd.optional(),
      cacheWrite1hPerMTok: usd.optional(),
      perRequestUsd: usd.optional(),
      perSecondUsd: usd.optional(),
    })
    .strict()
    .refine(
      (p) =>
        p.inputPerMTok !== undefined ||
        p.outputPerMTok !== undefined ||
        p.perRequestUsd !== undefined ||
        p.perSecondUsd !== undefined,
      {
        message:
          'a price period needs at least one of inputPerMTok, outputPerMTok, perRequestUsd, perSecondUsd',
      },
    );

  const customModel = z
    .object({
      provider: z.string().min(1),
      model: z.string().min(1),
      prices: z.array(pricePeriod).min(1),
    })
    .strict();

  const deployment = z
    .object({
      name: z.string().min(1).optional(),
      pattern: z.string().min(1).optional(),
      provider: z.string().min(1).optional(),
      priceAs: z
        .object({ provider: z.string().min(1).optional(), model: z.string().min(1) })
        .strict(),
    })
    .strict()
    .superRefine((d, ctx) => {
      if ((d.name === undefined) === (d.pattern === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'give exactly one of name or pattern' });
      }
      if (d.pattern !== undefined) {
        try {
          new RegExp(d.pattern);
        } catch (e) {
          ctx.addIssue({
            code: 'custom',
            path: ['pattern'],
            message: `bad regular expression: ${(e as Error).message}`,
          });
        }
      }
    });

  const discount = z
    .object({
      provider: z.string().min(1).optional(),
      model: z.string().min(1).optional(),
      multiplier: z.number().finite().positive(),
      effectiveFrom: instant.optional(),
      effectiveUntil: instant.optional(),
    })
    .strict()
    .superRefine((d, ctx) => {
      // An empty window would silently never apply.
      if (
        d.effectiveFrom !== undefined &&
        d.effectiveUntil !== undefined &&
        d.effectiveUntil <= d.effectiveFrom
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['effectiveUntil'],
          message: 'effectiveUntil must be after effectiveFrom',
        });
      }
    });

  const toolRule = z
    .object({
      name: z.string().min(1).optional(),
      mcpServer: z.string().min(1).optional(),
      perCallUsd: usd.optional(),
      perUnitUsd: usd.optional(),
      unit: z.string().min(1).optional(),
    })
    .strict()
    .superRefine((r, ctx) => {
      if (r.name === undefined && r.mcpServer === undefined) {
        ctx.addIssue({ code: 'custom', message: 'a tool rule needs name or mcpServer' });
      }
      if ((r.perCallUsd === undefined) === (r.perUnitUsd === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'give exactly one of perCallUsd or perUnitUsd' });
      }
    });

  const retrievalRule = z
    .object({
      dataSource: z.string().min(1).optional(),
      dbSystem: z.string().min(1).optional(),
      perQueryUsd: usd.optional(),
      perUnitUsd: usd.optional(),
      unit: z.string().min(1).optional(),
    })
    .strict()
    .superRefine((r, ctx) => {
      if (r.dataSource === undefined && r.dbSystem === undefined) {
        ctx.addIssue({ code: 'custom', message: 'a retrieval rule needs dataSource or dbSystem' });
      }
      if ((r.perQueryUsd === undefined) === (r.perUnitUsd === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'give exactly one of perQueryUsd or perUnitUsd' });
      }
    });

  const humanReview = z
    .object({
      ratePerHourUsd: usd,
      roles: z.record(z.string(), usd).optional(),
    })
    .strict();

  /** One alternative of a routing list: a model id (the catalog finds its maker), or a provider
   * and model. */
  const alternative = z.union(
    [
      z.string().trim().min(1),
      z.object({ provider: z.string().trim().min(1), model: z.string().trim().min(1) }).strict(),
    ],
    { error: 'expected a model id or { provider, model }' },
  );

  const alternatives = z
    .array(alternative)
    .min(1)
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((a, i) => {
        const label = alternativeLabel(a).toLowerCase();
        if (seen.has(label)) {
          ctx.addIssue({ code: 'custom', path: [i], message: `"${label}" is listed twice` });
        }
        seen.add(label);
      });
    });

  /** The `routing:` section: which cheaper models to price each LLM call on as well, by the model
   * called or by use case (docs/pricing.md, "Routing counterfactuals"). */
  const routingSchema = z
    .object({
      /** Alternatives by the model called (the catalog entry's id, or the id as emitted). */
      models: z.record(z.string().trim().min(1), alternatives).optional(),
      /** Alternatives by `spanledger.use_case`. */
      useCases: z.record(z.string().trim().min(1), alternatives).optional(),
      /** Also write the alternatives' costs on each span. Default false (metric only). */
      onSpans: z.boolean().optional(),
    })
    .strict()
    .superRefine((r, ctx) => {
      if (r.models === undefined && r.useCases === undefined) {
        ctx.addIssue({ code: 'custom', message: 'give models or useCases (or both)' });
      }
      for (const [model, list] of Object.entries(r.models ?? {})) {
        list.forEach((a, i) => {
          if (alternativeLabel(a).toLowerCase() === model.toLowerCase()) {
            ctx.addIssue({
              code: 'custom',
              path: ['models', model, i],
              message: 'a model is no alternative to itself',
            });
          }
        });
      }
    });

  /** The prices sections, each a key of the configuration file (composed in src/config.ts). */
  const sections = {
    providerAliases: z.record(z.string(), z.string().min(1)).optional(),
    deployments: z.array(deployment).optional(),
    models: z.array(customModel).optional(),
    discounts: z.array(discount).optional(),
    serviceTiers: z.record(z.string(), z.number().finite().positive()).optional(),
    tools: z.array(toolRule).optional(),
    retrievals: z.array(retrievalRule).optional(),
    humanReview: humanReview.optional(),
    routing: routingSchema.optional(),
  };
  return { alternative, routing: routingSchema, sections, prices: z.object(sections).strict() };
}

type Schemas = ReturnType<typeof buildSchemas>;
const schemas = lazily(buildSchemas);

/** The prices sections' schemas, each a key of the configuration file (composed in
 * src/config.ts). */
export const pricesSections = (): Schemas['sections'] => schemas().sections;

/** Schema of the prices sections alone (a `PriceBook`'s `prices` object). */
export const pricesConfigSchema = (): Schemas['prices'] => schemas().prices;

/** Schema of the `routing:` section: which cheaper models to price each LLM call on as well, by
 * the model called or by use case (docs/pricing.md, "Routing counterfactuals"). */
export const routingSchema = (): Schemas['routing'] => schemas().routing;

/** A routing alternative as written. */
export type RoutingAlternative = Z.output<Schemas['alternative']>;
/** The validated `routing:` section. */
export type RoutingConfig = Z.output<Schemas['routing']>;
/** The `routing:` section as written (file or the `routing` option). */
export type RoutingConfigInput = Z.input<Schemas['routing']>;

/** How an alternative is named on metrics and spans: the model id, or `provider/model`. */
export function alternativeLabel(a: RoutingAlternative): string {
  return typeof a === 'string' ? a : `${a.provider}/${a.model}`;
}

/** Validate a `routing` option given in code. */
export function validateRouting(input: unknown, origin: string): RoutingConfig {
  const parsed = routingSchema().safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      `spanledger: invalid routing in ${origin}: ${describeIssues(parsed.error.issues)}`,
    );
  }
  return parsed.data;
}

/** The prices configuration as written by users (file or object). */
export type PricesConfigInput = Z.input<Schemas['prices']>;
/** The validated prices configuration, instants as epoch milliseconds. */
export type PricesConfig = Z.output<Schemas['prices']>;

/** Validate a prices object; `origin` names it in errors (a file path, or "options.prices"). */
export function validatePricesConfig(input: unknown, origin: string): PricesConfig {
  // No prices (a PriceBook of the catalog alone) is valid as it is: the schema, and zod with
  // it, is loaded only for something to check.
  if (input === undefined || input === null || isEmptyObject(input)) return {};
  const parsed = pricesConfigSchema().safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      `spanledger: invalid prices in ${origin}: ${describeIssues(parsed.error.issues)}`,
    );
  }
  return parsed.data;
}

/** A plain object with no keys: what the schema turns into `{}` (anything else goes to it). */
function isEmptyObject(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return (proto === Object.prototype || proto === null) && Reflect.ownKeys(v).length === 0;
}
