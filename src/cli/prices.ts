/**
 * `spanledger prices show` and `spanledger prices check`: the price card in force for a model
 * (why a span cost what it did), and what each entry of a prices file resolves to, with the same
 * price book the span processor uses.
 */
import { loadConfigFile } from '../config.js';
import type { Rate } from '../pricing/catalog.js';
import { alternativeLabel } from '../pricing/config.js';
import { PriceBook, type PriceCard } from '../pricing/price-book.js';
import { callProvider } from '../usage/normalize.js';
import {
  type CliIO,
  EXIT,
  parseCommandLine,
  parseInstant,
  requireString,
  UsageError,
} from './args.js';

/** Help text of `spanledger prices`. */
export const PRICES_USAGE = `Usage: spanledger prices show MODEL [--provider P] [--at DATE] [--prices FILE] [--json]
       spanledger prices check FILE [--at DATE] [--json]

show   the price card in force for a model, as the span processor resolves it: the entry that
       matched (exact, or approximate when the catalog took the id only by a prefix or
       substring rule), USD per million tokens by token type, tiers, cache prices, fees,
       discounts from --prices, and the dates the entry's price changes
check  validate a prices file, then print what each entry resolves to: custom models and
       their periods, deployments, aliases, discounts and routing alternatives. Exit 1 when
       the file is invalid or an entry resolves to no price or only approximately

Options:
  --provider P   provider as emitted (openai, anthropic, aws.bedrock...); optional
  --at DATE      the card in force at this instant: 2025-06-01 (midnight UTC) or
                 2025-06-01T12:00:00Z (offset required). Default: now
  --prices FILE  prices file (YAML or JSON) whose contract prices and discounts apply (show)
  --json         print one JSON object instead of the table
  -h, --help     show this help

Examples:
  spanledger prices show gpt-4o --provider openai --at 2024-07-01
  spanledger prices show deepseek-chatt --provider deepseek --json
  spanledger prices check prices.yaml
`;

const OPTIONS = {
  provider: { type: 'string' },
  at: { type: 'string' },
  prices: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parse(argv: string[]) {
  return parseCommandLine(argv, OPTIONS, true);
}

/** A rate: flat, or the base and each tier (chosen by the request's total input tokens). */
function rate(r: Rate | undefined): string {
  if (r === undefined) return '—';
  if (typeof r === 'number') return String(r);
  const tiers = r.tiers.map(
    (t) => `${t.price} above ${t.start.toLocaleString('en-US')} input tokens`,
  );
  return [String(r.base), ...tiers].join('; ');
}

/** The `--json` form of a card: snake_case keys, absent values omitted. */
export function cardJson(
  provider: string | undefined,
  model: string,
  at: Date,
  c: PriceCard,
  pricesFile?: string,
): Record<string, unknown> {
  const r = c.rates;
  return {
    status: c.status,
    reason: c.reason,
    provider: c.provider,
    model: c.model,
    match: c.match,
    matched_by: c.matchedBy,
    source: c.source,
    catalog: c.catalog,
    errata: c.errata,
    requested_provider: provider,
    requested_model: model,
    at: at.toISOString(),
    currency: 'USD',
    unit: 'per million tokens',
    input_mtok: r?.input,
    cache_read_mtok: r?.cacheRead,
    cache_write_mtok: r?.cacheWrite,
    cache_write_1h_mtok: r?.cacheWrite1h,
    output_mtok: r?.output,
    per_request_usd: r?.perRequestUsd,
    per_second_usd: r?.perSecondUsd,
    free: r?.free,
    multiplier: c.multiplier,
    time_of_day: c.timeOfDay?.map((w) => ({
      start_utc: w.startTime,
      end_utc: w.endTime,
      prices: w.prices,
    })),
    price_changes: c.changes?.map((ms) => new Date(ms).toISOString()),
    catalog_prices: c.catalogPrices,
    prices_file: pricesFile,
  };
}

/** The card for people: facts, then one row per token type. */
export function cardTable(
  provider: string | undefined,
  model: string,
  at: Date,
  c: PriceCard,
  pricesFile?: string,
): string {
  const facts: [string, string][] = [
    ['asked', `${provider ?? '(any provider)'} / ${model}`],
    [
      'matched',
      c.model !== undefined
        ? `${c.provider ?? '?'} / ${c.model} (${c.match ?? 'exact'}${c.matchedBy === 'deployment' ? ', deployment' : c.matchedBy === 'provider_prefix' ? ', provider prefix' : ''})`
        : '(no match)',
    ],
    ['in force at', at.toISOString()],
  ];
  if (pricesFile !== undefined) facts.push(['prices file', pricesFile]);
  facts.push(['source', c.source ?? '—'], ['catalog', c.catalog ?? '—']);
  if (c.errata !== undefined) facts.push(['errata', c.errata.join(', ')]);
  facts.push(['status', c.status]);
  if (c.reason !== undefined) facts.push(['reason', c.reason]);
  if (c.multiplier !== undefined) facts.push(['discount multiplier', String(c.multiplier)]);
  for (const w of c.timeOfDay ?? []) {
    const rates = Object.entries(w.prices)
      .filter(([, v]) => typeof v === 'number')
      .map(([k, v]) => `${k.replace(/_mtok$/, '')} ${v}`)
      .join(', ');
    const hhmm = (t: string): string => t.replace(/Z$/, '').replace(/:00$/, '');
    const now = c.catalogPrices === w.prices ? 'in force' : 'not in force';
    facts.push([
      'time of day',
      `${hhmm(w.startTime)}–${hhmm(w.endTime)} UTC: ${rates} (${now} at the time asked)`,
    ]);
  }
  if (c.changes !== undefined) {
    facts.push([
      'price changes',
      c.changes.map((ms) => new Date(ms).toISOString().replace('T00:00:00.000Z', '')).join(', '),
    ]);
  }
  const lines = facts.map(([k, v]) => `  ${k.padEnd(20)}${v}`);
  const r = c.rates;
  if (r !== undefined) {
    lines.push('', '  USD per million tokens (multiplier not applied)');
    const rows: [string, string][] = [
      ['input', rate(r.input)],
      ['cache read', rate(r.cacheRead)],
      ['cache write', rate(r.cacheWrite)],
      ['cache write 1h', rate(r.cacheWrite1h)],
      ['output', rate(r.output)],
    ];
    if (r.perRequestUsd !== undefined) rows.push(['per request (USD)', String(r.perRequestUsd)]);
    if (r.perSecondUsd !== undefined) rows.push(['per second (USD)', String(r.perSecondUsd)]);
    if (r.free) rows.push(['free', 'the catalog lists no price: the provider does not charge']);
    for (const [k, v] of rows) lines.push(`  ${k.padEnd(20)}${v}`);
    const other = Object.keys(c.catalogPrices ?? {}).filter(
      (k) =>
        !['input_mtok', 'output_mtok', 'cache_read_mtok', 'cache_write_mtok'].includes(k) &&
        k !== 'cache_write_1h_mtok',
    );
    if (other.length > 0) lines.push(`  ${'other catalog units'.padEnd(20)}${other.join(', ')}`);
  } else {
    lines.push('', '  No price: spans of this model are counted as unpriced, never as $0.');
  }
  return `${lines.join('\n')}\n`;
}

function loadBook(path: string | undefined): PriceBook | undefined {
  return path === undefined ? undefined : new PriceBook({ config: loadConfigFile(path).prices });
}

async function show(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    io.stdout(PRICES_USAGE);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('prices show takes one MODEL');
  const model = requireString('model', positionals[0]);
  const provider = callProvider(
    values.provider === undefined ? undefined : requireString('provider', values.provider),
    undefined,
  );
  const at = parseInstant('at', values.at) ?? new Date();
  const pricesFile =
    values.prices === undefined ? undefined : requireString('prices', values.prices);
  const book = loadBook(pricesFile) ?? new PriceBook();
  const card = book.card(provider, model, at);
  io.stdout(
    values.json
      ? `${JSON.stringify(cardJson(provider, model, at, card, pricesFile))}\n`
      : cardTable(provider, model, at, card, pricesFile),
  );
  return EXIT.ok;
}

/** One line of `prices check`: the entry, what it resolves to, and whether that is a problem. */
interface CheckLine {
  entry: string;
  resolves: string;
  problem?: string;
}

function resolution(c: PriceCard): { resolves: string; problem?: string } {
  if (c.status !== 'priced') {
    return {
      resolves: `no price (${c.reason})${c.model ? ` at ${c.provider}/${c.model}` : ''}`,
      problem: c.reason,
    };
  }
  const r = c.rates;
  const fees = [
    r?.perRequestUsd !== undefined ? `, $${r.perRequestUsd} per request` : '',
    r?.perSecondUsd !== undefined ? `, $${r.perSecondUsd} per second` : '',
  ].join('');
  const times = c.multiplier !== undefined ? `, x${c.multiplier} by discounts` : '';
  const what = `${c.provider}/${c.model} (${c.source}, ${c.match}): input ${rate(r?.input)}, output ${rate(r?.output)} per MTok${fees}${times}`;
  return c.match === 'approximate'
    ? { resolves: what, problem: 'matched only approximately' }
    : { resolves: what };
}

/** What each entry of a validated prices file resolves to at `at`. */
export function checkLines(book: PriceBook, at: Date): CheckLine[] {
  const cfg = book.config;
  const out: CheckLine[] = [];
  for (const [alias, target] of Object.entries(cfg.providerAliases ?? {})) {
    out.push({ entry: `providerAliases.${alias}`, resolves: `provider ${book.provider(target)}` });
  }
  (cfg.models ?? []).forEach((m, i) => {
    const c = book.card(m.provider, m.model, at);
    const periods = m.prices
      .map((p) =>
        p.effectiveFrom === undefined
          ? 'always'
          : `from ${new Date(p.effectiveFrom).toISOString().slice(0, 10)}`,
      )
      .join(', ');
    out.push({
      entry: `models[${i}] ${m.provider}/${m.model}`,
      ...resolution(c),
      resolves: `${resolution(c).resolves}; periods: ${periods}`,
    });
  });
  (cfg.deployments ?? []).forEach((d, i) => {
    // A named deployment resolves through its name, as its spans do (discounts may name it).
    const c =
      d.name !== undefined
        ? book.card(d.provider, d.name, at)
        : book.card(d.priceAs.provider ?? d.provider, d.priceAs.model, at);
    out.push({
      entry: `deployments[${i}] ${d.name ?? `/${d.pattern}/`}`,
      ...resolution(c),
    });
  });
  (cfg.discounts ?? []).forEach((d, i) => {
    const window = [
      d.effectiveFrom !== undefined ? `from ${new Date(d.effectiveFrom).toISOString()}` : '',
      d.effectiveUntil !== undefined ? `until ${new Date(d.effectiveUntil).toISOString()}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    out.push({
      entry: `discounts[${i}]`,
      resolves: `x${d.multiplier} on provider ${d.provider ?? '*'}, model ${d.model ?? '*'}${window ? ` ${window}` : ''}`,
    });
  });
  for (const [kind, map] of [
    ['models', cfg.routing?.models],
    ['useCases', cfg.routing?.useCases],
  ] as const) {
    for (const [key, list] of Object.entries(map ?? {})) {
      list.forEach((a, i) => {
        const c =
          typeof a === 'string' ? book.card(undefined, a, at) : book.card(a.provider, a.model, at);
        out.push({
          entry: `routing.${kind}.${key}[${i}] ${alternativeLabel(a)}`,
          ...resolution(c),
        });
      });
    }
  }
  const rules = [
    ['serviceTiers', Object.keys(cfg.serviceTiers ?? {}).length],
    ['tools', cfg.tools?.length ?? 0],
    ['retrievals', cfg.retrievals?.length ?? 0],
  ] as const;
  for (const [name, n] of rules) {
    if (n > 0) out.push({ entry: name, resolves: `${n} rule${n === 1 ? '' : 's'}` });
  }
  if (cfg.humanReview !== undefined) {
    out.push({ entry: 'humanReview', resolves: `$${cfg.humanReview.ratePerHourUsd} per hour` });
  }
  return out;
}

async function check(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    io.stdout(PRICES_USAGE);
    return EXIT.ok;
  }
  if (values.provider !== undefined || values.prices !== undefined) {
    throw new UsageError('prices check takes FILE, --at and --json only');
  }
  if (positionals.length !== 1) throw new UsageError('prices check takes one FILE');
  const file = requireString('file', positionals[0]);
  const at = parseInstant('at', values.at) ?? new Date();
  // Throws ConfigError (exit 1, one line naming the file, entry and reason) on an invalid file.
  const book = loadBook(file) as PriceBook;
  const lines = checkLines(book, at);
  const problems = lines.filter((l) => l.problem !== undefined).length;
  if (values.json) {
    io.stdout(
      `${JSON.stringify({ file, at: at.toISOString(), valid: problems === 0, entries: lines })}\n`,
    );
  } else {
    // Long entries (Bedrock ARNs) overflow the column rather than widen every line.
    const w = Math.min(40, Math.max(0, ...lines.map((l) => l.entry.length)));
    const body = lines.map((l) => `  ${l.problem ? '!' : ' '} ${l.entry.padEnd(w)}  ${l.resolves}`);
    io.stdout(
      `${file}: ${problems === 0 ? 'valid' : `${problems} entr${problems === 1 ? 'y resolves' : 'ies resolve'} to no exact price`} (prices in force at ${at.toISOString()})\n${body.join('\n')}${body.length ? '\n' : ''}`,
    );
  }
  return problems === 0 ? EXIT.ok : EXIT.config;
}

/** Run `spanledger prices` (arguments after `prices`). */
export async function runPrices(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help') {
    io[sub === undefined ? 'stderr' : 'stdout'](PRICES_USAGE);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  if (sub === 'show') return show(rest, io);
  if (sub === 'check') return check(rest, io);
  throw new UsageError(`unknown subcommand '${sub}' (show or check)`);
}
