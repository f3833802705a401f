/**
 * The `SPANLEDGER_*` environment variables read by `spanledger/register` and
 * `startSpanLedger()`. The standard `OTEL_*` variables are left to the NodeSDK. Every variable
 * is validated once, at startup: a bad value throws `ConfigError` naming the variable and why.
 */
import { trustedKeys } from '../attribution/attribution.js';
import type { Budget } from '../budgets/config.js';
import { checkClusterOption } from '../budgets/redis/connection.js';
import { RedisLedger } from '../budgets/redis-ledger.js';
import { loadBudgetsFile, loadConfigFile } from '../config.js';
import { ConfigError } from '../config-file.js';
import { createDimensions } from '../dimensions.js';
import type { SpanLedgerOptions } from '../ledger.js';
import { PriceBook } from '../pricing/price-book.js';

/** The variables, with what each sets (documented in README and docs/operations). */
export const ENV = {
  /** `true`: `spanledger/register` starts nothing (as does `OTEL_SDK_DISABLED=true`). */
  disabled: 'SPANLEDGER_DISABLED',
  /** Prices file, YAML or JSON (contract prices, aliases, rules, `budgets:`). */
  pricesFile: 'SPANLEDGER_PRICES_FILE',
  /** Budgets file, YAML or JSON, with a top-level `budgets:` list. */
  budgetsFile: 'SPANLEDGER_BUDGETS_FILE',
  /** Extra dimension attribute keys, comma-separated (e.g. `spanledger.region`). */
  dimensions: 'SPANLEDGER_DIMENSIONS',
  /** `true` (default), `false`, or the comma-separated dimension keys to accept from inbound
   * baggage; anything else fails at startup. */
  trustBaggage: 'SPANLEDGER_TRUST_BAGGAGE',
  /** Distinct values kept per dimension before `__other__`. */
  maxValuesPerDimension: 'SPANLEDGER_MAX_VALUES_PER_DIMENSION',
  /** Redis URL for budgets shared across processes (default: in-process budgets); with
   * `SPANLEDGER_REDIS_CLUSTER=true`, one or more comma-separated seed nodes of a Redis Cluster. */
  redisUrl: 'SPANLEDGER_REDIS_URL',
  /** `true`: `SPANLEDGER_REDIS_URL` names nodes of a Redis Cluster (default `false`). */
  redisCluster: 'SPANLEDGER_REDIS_CLUSTER',
  /** `open` (default) or `closed`: what budget reservations do while Redis is unreachable. */
  redisFailure: 'SPANLEDGER_REDIS_FAILURE',
  /** Prefix of the Redis keys, e.g. per environment. */
  redisKeyPrefix: 'SPANLEDGER_REDIS_KEY_PREFIX',
  /** Deadline of one Redis operation, ms (default 50); slower counts as unavailable. */
  redisTimeoutMs: 'SPANLEDGER_REDIS_TIMEOUT_MS',
  /** `false` stops mirroring cost into the proposed `gen_ai.usage.cost.*` attributes. */
  semconvCostAttributes: 'SPANLEDGER_SEMCONV_COST_ATTRIBUTES',
  /** `true`: spans whose model id the catalog matched only approximately are left unpriced
   * (reason `approximate_model`) rather than priced at a neighbour's price. */
  strictModels: 'SPANLEDGER_STRICT_MODELS',
  /** Instrumentations to enable, comma-separated, or `none` (default: all available). */
  instrumentations: 'SPANLEDGER_INSTRUMENTATIONS',
} as const;

/** Environment variables as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Read a variable; empty and whitespace-only values count as unset. */
export function envString(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** A boolean variable: `true`/`false` (any case), or `fallback` when unset. */
export function envBoolean(env: Env, name: string, fallback: boolean): boolean {
  const v = envString(env, name);
  if (v === undefined) return fallback;
  const lower = v.toLowerCase();
  if (lower === 'true' || lower === '1') return true;
  if (lower === 'false' || lower === '0') return false;
  throw new ConfigError(`spanledger: ${name}=${JSON.stringify(v)}: expected true or false`);
}

/** A comma-separated list variable (blank items dropped), or undefined when unset. */
export function envList(env: Env, name: string): string[] | undefined {
  const v = envString(env, name);
  if (v === undefined) return undefined;
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Run `load`; a `ConfigError` it throws is rethrown with the variable's name in front. */
function fromVariable<T>(name: string, load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (e instanceof ConfigError) {
      throw new ConfigError(`spanledger: ${name}: ${e.message.replace(/^spanledger: /, '')}`);
    }
    throw e;
  }
}

function envPositiveInt(env: Env, name: string): number | undefined {
  const v = envString(env, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) {
    throw new ConfigError(`spanledger: ${name}=${JSON.stringify(v)}: expected a positive integer`);
  }
  return n;
}

/** The ledger options the `SPANLEDGER_*` variables give (a Redis ledger is created, not
 * connected: it connects in the background). Throws `ConfigError` on a bad value or file. */
export function ledgerOptionsFromEnv(env: Env): SpanLedgerOptions {
  const options: SpanLedgerOptions = {};
  // The dimensions first: the files' budget scopes and the baggage trust list are checked
  // against them.
  const extraDimensions = envList(env, ENV.dimensions);
  const dimensions = createDimensions(extraDimensions, ENV.dimensions);
  const prices = envString(env, ENV.pricesFile);
  const budgetsFile = envString(env, ENV.budgetsFile);
  let budgets: Budget[] | undefined;
  const strictModels = envBoolean(env, ENV.strictModels, false);
  if (prices !== undefined) {
    // Read and validated here, not in the ledger, so that an error names the variable too.
    const config = fromVariable(ENV.pricesFile, () => loadConfigFile(prices, dimensions));
    // The price book checks the routing alternatives against the catalog: name the file too.
    options.priceBook = fromVariable(
      ENV.pricesFile,
      () =>
        new PriceBook({
          config: config.prices,
          ...(strictModels ? { strictModels } : {}),
        }),
    );
    budgets = config.budgets;
  } else if (strictModels) {
    options.strictModels = true;
  }
  if (budgetsFile !== undefined) {
    budgets = [
      ...(budgets ?? []),
      ...fromVariable(ENV.budgetsFile, () => loadBudgetsFile(budgetsFile, dimensions)),
    ];
  }
  if (budgets !== undefined) options.budgets = budgets;

  const trust = envString(env, ENV.trustBaggage);
  let trustBaggage: boolean | string[] | undefined;
  if (trust !== undefined) {
    const lower = trust.toLowerCase();
    // Anything but true or false is a key list, and every key must be a dimension key: a typo
    // such as `ture` fails here rather than trusting nothing (or everything) silently.
    trustBaggage =
      lower === 'true'
        ? true
        : lower === 'false'
          ? false
          : trustedKeys(envList(env, ENV.trustBaggage), dimensions, ENV.trustBaggage);
  }
  const maxValues = envPositiveInt(env, ENV.maxValuesPerDimension);
  if (extraDimensions !== undefined || trustBaggage !== undefined || maxValues !== undefined) {
    options.attribution = {
      ...(extraDimensions ? { extraDimensions } : {}),
      ...(trustBaggage !== undefined ? { trustBaggage } : {}),
      ...(maxValues !== undefined ? { maxValuesPerDimension: maxValues } : {}),
    };
  }

  if (!envBoolean(env, ENV.semconvCostAttributes, true)) options.semconvCostAttributes = false;

  // Last: the Redis ledger opens a connection, so every other variable is validated first.
  const redisUrls = envList(env, ENV.redisUrl);
  const cluster = envBoolean(env, ENV.redisCluster, false);
  const timeoutMs = envPositiveInt(env, ENV.redisTimeoutMs);
  const failure = envString(env, ENV.redisFailure)?.toLowerCase();
  if (failure !== undefined && failure !== 'open' && failure !== 'closed') {
    throw new ConfigError(
      `spanledger: ${ENV.redisFailure}=${JSON.stringify(failure)}: expected open or closed`,
    );
  }
  if (cluster && redisUrls === undefined) {
    throw new ConfigError(
      `spanledger: ${ENV.redisCluster}=true needs ${ENV.redisUrl} (the seed nodes of the cluster)`,
    );
  }
  if (redisUrls !== undefined && redisUrls.length > 0) {
    for (const url of redisUrls) {
      if (!/^rediss?:\/\//.test(url)) {
        throw new ConfigError(
          `spanledger: ${ENV.redisUrl}: expected a redis:// or rediss:// URL, got ${JSON.stringify(url)}`,
        );
      }
    }
    if (!cluster && redisUrls.length > 1) {
      // Several servers that are not a cluster cannot share one ledger: never guess.
      throw new ConfigError(
        `spanledger: ${ENV.redisUrl}: ${redisUrls.length} URLs given; several are the seed nodes of a Redis Cluster: set ${ENV.redisCluster}=true`,
      );
    }
    const prefix = envString(env, ENV.redisKeyPrefix);
    let target: { url: string } | { cluster: { rootNodes: Array<{ url: string }> } } = {
      url: redisUrls[0] as string,
    };
    if (cluster) {
      const rootNodes = redisUrls.map((url) => ({ url }));
      const problem = checkClusterOption({ rootNodes });
      if (problem) throw new ConfigError(`spanledger: ${ENV.redisUrl}: ${problem}`);
      target = { cluster: { rootNodes } };
    }
    options.budgetLedger = new RedisLedger({
      ...target,
      ...(failure ? { failure } : {}),
      ...(prefix ? { keyPrefix: prefix } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    });
  }

  return options;
}
