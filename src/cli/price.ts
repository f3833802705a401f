/**
 * `spanledger price`: price one model call from the command line, with the same engine (and the
 * same prices file) the span processor uses, so "what would this call cost?" has one answer.
 */
import { loadConfigFile } from '../config.js';
import {
  PriceBook,
  type PriceResult,
  priceUsage,
  type UsageRecord,
} from '../pricing/price-book.js';
import { callProvider } from '../usage/normalize.js';
import {
  type CliIO,
  EXIT,
  parseCommandLine,
  parseCount,
  parseInstant,
  requireString,
  UsageError,
} from './args.js';

/** Help text of `spanledger price`. */
export const PRICE_USAGE = `Usage: spanledger price --model M [--provider P] --input N --output N [options]

Price one model call from the price catalog (and an optional prices file), exactly as the span
processor would. Token counts follow the OTel GenAI convention: --input counts ALL input tokens,
cached ones included (cache reads and cache writes); --output counts all output tokens,
reasoning included.

Options:
  --provider P        provider as emitted (openai, anthropic, aws.bedrock...); optional when
                      the model id alone is unambiguous
  --model M           model id as emitted (required)
  --server-address H  the span's server.address: an Azure OpenAI host (*.openai.azure.com,
                      *.cognitiveservices.azure.com) makes provider openai (or none) read as
                      azure.ai.openai, as the span processor reads it
  --input N           input tokens, including cache reads and writes (required)
  --output N          output tokens, including reasoning (required)
  --cache-read N      part of --input read from the prompt cache
  --cache-write N     part of --input written to the prompt cache (all TTLs; defaults to
                      --cache-write-1h when only that is given)
  --cache-write-1h N  part of --cache-write written with a 1-hour TTL (Anthropic)
  --reasoning N       part of --output spent on reasoning (shown; never charged on top)
  --service-tier T    service tier: default, batch, flex, priority... (or one from --prices)
  --at DATE           price in force at this instant: 2025-06-01 (midnight UTC) or
                      2025-06-01T12:00:00Z (offset required). Default: now
  --prices FILE       prices file (YAML or JSON): contract prices, custom models, discounts
  --json              print one JSON object (snake_case keys) instead of the table
  -h, --help          show this help

Exit status: 0 when the command ran, whether the call was priced or not (see status and
reason: unknown is never reported as zero); 1 for an invalid prices file; 2 for bad arguments.

Examples:
  spanledger price --provider openai --model gpt-4o --input 1000000 --output 1000000
  spanledger price --provider anthropic --model claude-sonnet-4 \\
      --input 100000 --cache-read 80000 --output 10000 --json
`;

/** A parsed `spanledger price` command line. */
export interface PriceRequest {
  usage: UsageRecord;
  /** Instant whose prices apply. */
  at: Date;
  /** Prices file path, when given. */
  prices?: string;
  json: boolean;
}

const OPTIONS = {
  provider: { type: 'string' },
  model: { type: 'string' },
  input: { type: 'string' },
  output: { type: 'string' },
  'cache-read': { type: 'string' },
  'cache-write': { type: 'string' },
  'cache-write-1h': { type: 'string' },
  reasoning: { type: 'string' },
  'service-tier': { type: 'string' },
  'server-address': { type: 'string' },
  at: { type: 'string' },
  prices: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Parse and check a `price` command line (the arguments after `price`). Returns `'help'` for
 * `--help`; throws {@link UsageError} for anything the engine would only report as
 * `invalid_usage`, because on a command line that is a typo to fix, not usage to record.
 */
export function parsePriceArgs(
  argv: string[],
  now: () => Date = () => new Date(),
): PriceRequest | 'help' {
  const { values } = parseCommandLine(argv, OPTIONS, false);
  if (values.help) return 'help';

  const model = requireString('model', values.model);
  const serverAddress =
    values['server-address'] === undefined
      ? undefined
      : requireString('server-address', values['server-address']);
  const provider = callProvider(
    values.provider === undefined ? undefined : requireString('provider', values.provider),
    serverAddress,
  );
  const inputTokens = parseCount('input', values.input);
  const outputTokens = parseCount('output', values.output);
  if (inputTokens === undefined)
    throw new UsageError('--input is required (all input tokens, cached ones included)');
  if (outputTokens === undefined)
    throw new UsageError('--output is required (all output tokens, reasoning included)');
  const cacheReadTokens = parseCount('cache-read', values['cache-read']);
  const cacheWrite1hTokens = parseCount('cache-write-1h', values['cache-write-1h']);
  // --cache-write counts every write; given only the 1-hour part, all writes were 1-hour ones.
  const cacheWriteTokens = parseCount('cache-write', values['cache-write']) ?? cacheWrite1hTokens;
  const reasoningTokens = parseCount('reasoning', values.reasoning);

  const cached = (cacheReadTokens ?? 0) + (cacheWriteTokens ?? 0);
  if (cached > inputTokens) {
    throw new UsageError(
      `--cache-read plus --cache-write (${cached}) exceed --input (${inputTokens}): --input counts all input tokens, cached ones included`,
    );
  }
  if ((cacheWrite1hTokens ?? 0) > (cacheWriteTokens ?? 0)) {
    throw new UsageError(
      '--cache-write-1h exceeds --cache-write: --cache-write counts all cache writes',
    );
  }
  if ((reasoningTokens ?? 0) > outputTokens) {
    throw new UsageError(
      `--reasoning (${reasoningTokens}) exceeds --output (${outputTokens}): --output counts all output tokens, reasoning included`,
    );
  }
  const serviceTier =
    values['service-tier'] === undefined
      ? undefined
      : requireString('service-tier', values['service-tier']);
  const prices = values.prices === undefined ? undefined : requireString('prices', values.prices);

  const usage: UsageRecord = { model, inputTokens, outputTokens };
  if (provider !== undefined) usage.provider = provider;
  if (cacheReadTokens !== undefined) usage.cacheReadTokens = cacheReadTokens;
  if (cacheWriteTokens !== undefined) usage.cacheWriteTokens = cacheWriteTokens;
  if (cacheWrite1hTokens !== undefined) usage.cacheWrite1hTokens = cacheWrite1hTokens;
  if (reasoningTokens !== undefined) usage.reasoningTokens = reasoningTokens;
  if (serviceTier !== undefined) usage.serviceTier = serviceTier;
  return {
    usage,
    at: parseInstant('at', values.at) ?? now(),
    ...(prices !== undefined ? { prices } : {}),
    json: values.json === true,
  };
}

/**
 * The `--json` object. Keys are snake_case like the span attributes they mirror
 * (`spanledger.cost.input_usd` is `input_usd`). Absent values are omitted, never zero-filled:
 * an unpriced call has no `cost_usd`. `input_usd` is the uncached input; when the catalog prices
 * an unusual unit mix (audio...) it includes the cache, and the cache keys are omitted.
 */
export function priceJson(req: PriceRequest, r: PriceResult): Record<string, unknown> {
  const u = req.usage;
  const b = r.breakdown;
  // Key order is the reading order: verdict first, then what matched, then the numbers.
  return {
    status: r.status,
    cost_usd: r.costUsd,
    currency: 'USD',
    source: r.source,
    reason: r.reason,
    provider: r.provider,
    model: r.model,
    matched_by: r.matchedBy,
    match: r.match,
    catalog: r.catalog,
    requested_provider: u.provider,
    requested_model: u.model,
    at: req.at.toISOString(),
    service_tier: r.serviceTier,
    multiplier: r.multiplier,
    input_usd: b?.inputUsd,
    output_usd: b?.outputUsd,
    cache_read_usd: b?.cacheReadUsd,
    cache_write_usd: b?.cacheWriteUsd,
    other_usd: b?.otherUsd,
    cache_savings_usd: r.cacheSavingsUsd,
    input_tokens: u.inputTokens,
    output_tokens: u.outputTokens,
    cache_read_tokens: u.cacheReadTokens ?? 0,
    cache_write_tokens: u.cacheWriteTokens ?? 0,
    cache_write_1h_tokens: u.cacheWrite1hTokens ?? 0,
    reasoning_tokens: u.reasoningTokens ?? 0,
    prices_file: req.prices,
  };
}

/** USD for people: six decimals (a millionth of a dollar), exponent below that so a tiny
 * non-zero cost never prints as 0.000000. */
function usd(n: number | undefined): string {
  if (n === undefined) return '—';
  if (n !== 0 && Math.abs(n) < 5e-7) return n.toExponential(2);
  return n.toFixed(6);
}

function tokens(n: number | undefined): string {
  return (n ?? 0).toLocaleString('en-US');
}

/** The human-readable answer: a few facts, then a token-type table whose rows add up. */
export function priceTable(req: PriceRequest, r: PriceResult): string {
  const u = req.usage;
  const b = r.breakdown;
  const asked = `${u.provider ?? '(any provider)'} / ${u.model}`;
  const via =
    r.matchedBy === 'deployment'
      ? ` (deployment ${r.matchedModel})`
      : r.matchedBy === 'provider_prefix'
        ? ' (provider prefix)'
        : '';
  // An approximate match is priced at a neighbouring entry: say so (docs/pricing.md).
  const approx = r.match === 'approximate' ? ' (approximate match)' : '';
  const matched =
    r.model !== undefined
      ? `${r.provider ?? '?'} / ${r.model}${via}${approx}`
      : r.provider
        ? `${r.provider} / (no match)`
        : '(no match)';

  const facts: [string, string][] = [
    ['asked', asked],
    ['matched', matched],
    ['catalog', r.catalog ?? '—'],
    ['priced at', req.at.toISOString()],
  ];
  if (req.prices !== undefined) facts.push(['prices file', req.prices]);
  if (u.serviceTier !== undefined) facts.push(['service tier', u.serviceTier]);
  if (r.multiplier !== undefined) facts.push(['multiplier', String(r.multiplier)]);
  facts.push(['source', r.source ?? '—'], ['status', r.status]);
  if (r.reason !== undefined) facts.push(['reason', r.reason]);

  const cacheRead = u.cacheReadTokens ?? 0;
  const cacheWrite = u.cacheWriteTokens ?? 0;
  const input = u.inputTokens ?? 0;
  // The breakdown prices the input partitions: uncached, cache read, cache write. When the
  // catalog folds the cache into input (no cache keys), show input whole rather than invent 0s.
  const split = b?.cacheReadUsd !== undefined;
  const rows: [string, string, string][] = [['token type', 'tokens', 'USD']];
  if (split || !b) {
    rows.push(['input (uncached)', tokens(input - cacheRead - cacheWrite), usd(b?.inputUsd)]);
    rows.push(['cache read', tokens(cacheRead), usd(b?.cacheReadUsd)]);
    const w1h = u.cacheWrite1hTokens ?? 0;
    rows.push([
      w1h > 0 ? `cache write (${tokens(w1h)} 1h)` : 'cache write',
      tokens(cacheWrite),
      usd(b?.cacheWriteUsd),
    ]);
  } else {
    rows.push(['input (incl. cache)', tokens(input), usd(b.inputUsd)]);
  }
  rows.push(['output', tokens(u.outputTokens), usd(b?.outputUsd)]);
  if (u.reasoningTokens !== undefined)
    rows.push(['  of which reasoning', tokens(u.reasoningTokens), 'in output']);
  rows.push(['other (per call)', '', usd(b?.otherUsd)]);
  rows.push([
    'total',
    tokens(input + (u.outputTokens ?? 0)),
    r.costUsd === undefined
      ? 'unpriced'
      : r.status === 'partial'
        ? `≥ ${usd(r.costUsd)}`
        : usd(r.costUsd),
  ]);
  if (r.cacheSavingsUsd !== undefined) rows.push(['cache savings', '', usd(r.cacheSavingsUsd)]);

  const w0 = Math.max(...facts.map((f) => f[0].length), ...rows.map((row) => row[0].length));
  const w1 = Math.max(...rows.map((row) => row[1].length));
  const w2 = Math.max(...rows.map((row) => row[2].length));
  const lines = [
    ...facts.map(([k, v]) => `  ${k.padEnd(w0)}  ${v}`),
    '',
    ...rows.map(([k, t, d]) => `  ${k.padEnd(w0)}  ${t.padStart(w1)}  ${d.padStart(w2)}`.trimEnd()),
  ];
  if (r.costUsd === undefined) {
    lines.push('', '  No price: this usage is counted as unpriced, never as $0.');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Run `spanledger price` (arguments after `price`). Returns the exit code; throws
 * {@link UsageError} for a bad command line and `ConfigError` for a bad prices file.
 */
export async function runPrice(argv: string[], io: CliIO): Promise<number> {
  const req = parsePriceArgs(argv);
  if (req === 'help') {
    io.stdout(PRICE_USAGE);
    return EXIT.ok;
  }
  // A fresh book per run: the CLI prices one call, and a prices file must be validated anyway.
  const priceBook =
    req.prices !== undefined
      ? new PriceBook({ config: loadConfigFile(req.prices).prices })
      : undefined;
  const result = priceUsage(req.usage, { at: req.at, ...(priceBook ? { priceBook } : {}) });
  io.stdout(req.json ? `${JSON.stringify(priceJson(req, result))}\n` : priceTable(req, result));
  return EXIT.ok;
}
