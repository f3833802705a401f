/**
 * `spanledger budgets status|pause|resume`: what every budget window has spent and how fast, and
 * the fleet-wide pause switch (docs/budgets.md, "spanledger budgets"). It reads the same
 * configuration as the service (`SPANLEDGER_PRICES_FILE`, `SPANLEDGER_BUDGETS_FILE`,
 * `SPANLEDGER_DIMENSIONS`, `SPANLEDGER_REDIS_*`, through the loader `spanledger/register` uses),
 * with flags that override the variables, and talks to the same Redis ledger.
 */
import type { Budget } from '../budgets/config.js';
import { counterLimits } from '../budgets/decisions.js';
import type { BudgetPause } from '../budgets/engine.js';
import { redisAddress } from '../budgets/redis/connection.js';
import type { RedisLedger } from '../budgets/redis-ledger.js';
import type { BudgetLedger, CounterName, PauseInfo } from '../budgets/types.js';
import { calendarWindow, ledgerKey, windowRef } from '../budgets/window.js';
import { createSpanLedger, defaultPauser, type SpanLedger } from '../ledger.js';
import { ENV, ledgerOptionsFromEnv } from '../node/env.js';
import {
  type CliIO,
  EXIT,
  parseCommandLine,
  parseInstant,
  requireString,
  UsageError,
} from './args.js';

/** Help text of `spanledger budgets`. */
export const BUDGETS_USAGE = `Usage: spanledger budgets status [BUDGET] [--dimension K=V]... [--at DATE] [--json]
       spanledger budgets pause BUDGET [--dimension K=V]... --reason TEXT [--until DATE] [--by NAME]
       spanledger budgets resume BUDGET [--dimension K=V]...

status  every calendar and rolling budget's current window: limit, spent, reserved (held by
        calls in flight), remaining, burn rate (spent over the elapsed part of the window, per
        hour) and time to exhaustion at that rate, per unit (USD, tokens, calls); then the
        paused scopes, with reason, who paused them, when and until when
pause   stop every guarded call in a budget's scope, in every process sharing the Redis
        ledger, until resumed (or --until); the pause outlives window rollovers
resume  lift a pause

The budgets and the Redis ledger are the service's: SPANLEDGER_PRICES_FILE and
SPANLEDGER_BUDGETS_FILE (budgets: lists), SPANLEDGER_DIMENSIONS, SPANLEDGER_REDIS_URL,
SPANLEDGER_REDIS_CLUSTER, SPANLEDGER_REDIS_KEY_PREFIX, SPANLEDGER_REDIS_TIMEOUT_MS. Budgets kept
in a process' memory cannot be read or paused from outside it: a Redis ledger is required.

Options:
  --budgets FILE      budgets file (YAML or JSON, a budgets: list); overrides SPANLEDGER_BUDGETS_FILE
  --prices FILE       prices file (its budgets: list counts too); overrides SPANLEDGER_PRICES_FILE
  --redis URL         Redis URL (comma-separated seed nodes with SPANLEDGER_REDIS_CLUSTER=true);
                      overrides SPANLEDGER_REDIS_URL
  --dimension K=V     the value of a per-value ('*') dimension of the budget, e.g.
                      --dimension tenant=acme (repeat for several)
  --reason TEXT       why (pause; required): shown on every refused call
  --until DATE        the pause lifts by itself then: 2026-12-01 (midnight UTC) or
                      2026-12-01T09:00:00+01:00 (offset required). Default: until resumed
  --by NAME           who pauses (default: $USER@hostname)
  --at DATE           status at this instant (default: now)
  --json              print one JSON object instead of the table
  -h, --help          show this help

Examples:
  spanledger budgets status --redis redis://redis.internal:6379
  spanledger budgets pause support-month --dimension useCase=triage --reason "runaway loop"
  spanledger budgets resume support-month --dimension useCase=triage
`;

const OPTIONS = {
  budgets: { type: 'string' },
  prices: { type: 'string' },
  redis: { type: 'string' },
  dimension: { type: 'string', multiple: true },
  reason: { type: 'string' },
  until: { type: 'string' },
  by: { type: 'string' },
  at: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parse(argv: string[]) {
  return parseCommandLine(argv, OPTIONS, true);
}

type Values = ReturnType<typeof parse>['values'];

/** A command failure that is not a usage error: one line on stderr, exit 1. */
class CommandError extends Error {}

/** `--dimension k=v` flags as an object. */
function dimensionsOf(flags: readonly string[] | undefined): Record<string, string> | undefined {
  if (flags === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const f of flags) {
    const i = f.indexOf('=');
    if (i <= 0 || i === f.length - 1) {
      throw new UsageError(`--dimension takes NAME=VALUE (e.g. tenant=acme), got '${f}'`);
    }
    out[f.slice(0, i).trim()] = f.slice(i + 1).trim();
  }
  return out;
}

/** The service's configuration, with the flags over the variables; the ledger it reads. */
async function open(
  values: Values,
): Promise<{ ledger: SpanLedger; store: RedisLedger; where: string }> {
  const env: Record<string, string | undefined> = { ...process.env };
  if (values.budgets !== undefined) env[ENV.budgetsFile] = requireString('budgets', values.budgets);
  if (values.prices !== undefined) env[ENV.pricesFile] = requireString('prices', values.prices);
  if (values.redis !== undefined) env[ENV.redisUrl] = requireString('redis', values.redis);
  const url = env[ENV.redisUrl]?.trim();
  if (url === undefined || url === '') {
    throw new CommandError(
      `no shared budget ledger: budgets in a process' memory cannot be read or paused from outside it; set ${ENV.redisUrl} or --redis URL to the service's Redis`,
    );
  }
  // host:port only: a URL's password must not reach a terminal or a log.
  const where = url
    .split(',')
    .map((u) => redisAddress(u.trim()))
    .join(',');
  // Fail-closed, so an answer is Redis' own, never a guess from this process' empty view.
  env[ENV.redisFailure] = 'closed';
  env[ENV.redisTimeoutMs] ??= '2000';
  const options = ledgerOptionsFromEnv(env);
  const store = options.budgetLedger as RedisLedger;
  const ledger = createSpanLedger(options);
  if (!(await store.ready(5_000))) {
    await ledger.shutdown();
    throw new CommandError(`Redis at ${where} did not answer within 5 s`);
  }
  return { ledger, store, where };
}

/** The scope a command names, checked against the budgets in force (usage errors). */
function scopeArg(positionals: string[], values: Values) {
  if (positionals.length !== 1) throw new UsageError('name one BUDGET');
  const budget = requireString('budget', positionals[0]);
  const dimensions = dimensionsOf(values.dimension);
  return dimensions === undefined ? { budget } : { budget, dimensions };
}

const at = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();

async function pauseCommand(positionals: string[], values: Values, io: CliIO): Promise<number> {
  const reason = requireString('reason', values.reason);
  const until = parseInstant('until', values.until);
  if (until !== undefined && until.getTime() <= Date.now()) {
    throw new UsageError(`--until must be in the future, got '${values.until}'`);
  }
  const by = values.by === undefined ? defaultPauser() : requireString('by', values.by);
  const { ledger, where } = await open(values);
  try {
    const scope = scopeArg(positionals, values);
    let p: BudgetPause;
    try {
      p = await ledger.pause(scope, { reason, by, ...(until ? { until } : {}) });
    } catch (e) {
      if (e instanceof TypeError)
        throw new UsageError(e.message.replace(/^spanledger: [^:]+: /, ''));
      throw new CommandError((e as Error).message);
    }
    if (values.json) io.stdout(`${JSON.stringify({ paused: p, redis: where })}\n`);
    else {
      io.stdout(
        `paused ${label(p.budget, p.dimensions)} for every process sharing ${where}\n` +
          `  reason  ${p.reason}\n  by      ${p.by}\n  at      ${p.pausedAt}\n` +
          `  until   ${p.until ?? 'resumed (spanledger budgets resume)'}\n`,
      );
    }
    return EXIT.ok;
  } finally {
    await ledger.shutdown();
  }
}

async function resumeCommand(positionals: string[], values: Values, io: CliIO): Promise<number> {
  const { ledger, where } = await open(values);
  try {
    const scope = scopeArg(positionals, values);
    let removed: boolean;
    try {
      removed = await ledger.resume(scope);
    } catch (e) {
      if (e instanceof TypeError)
        throw new UsageError(e.message.replace(/^spanledger: [^:]+: /, ''));
      throw new CommandError((e as Error).message);
    }
    const what = label(scope.budget, scope.dimensions);
    if (values.json) io.stdout(`${JSON.stringify({ resumed: removed, ...scope, redis: where })}\n`);
    else io.stdout(removed ? `resumed ${what}\n` : `${what} was not paused\n`);
    return EXIT.ok;
  } finally {
    await ledger.shutdown();
  }
}

const label = (budget: string, dims: Readonly<Record<string, string>> | undefined): string => {
  const d = Object.entries(dims ?? {}).map(([k, v]) => `${k}=${v}`);
  return `budget "${budget}"${d.length > 0 ? ` (${d.join(', ')})` : ''}`;
};

/** One limit's figures in a window. */
export interface LimitStatus {
  /** `USD`, `tokens`, `input tokens`, `LLM calls`, `tool calls`, ... */
  unit: string;
  /** The ledger counter (`usd` for USD). */
  counter: string;
  limit: number;
  spent: number;
  reserved: number;
  /** limit − spent − reserved (negative when over). */
  remaining: number;
  /** Spent per hour over the elapsed part of the window (rolling: over the whole window). */
  burn_rate_per_hour: number;
  /** At that rate, ms until spent + reserved reaches the limit: 0 when it has, null when
   * nothing is being spent. */
  exhaustion_in_ms: number | null;
  exhaustion_at: string | null;
}

/** One budget scope's status. */
export interface ScopeStatus {
  budget: string;
  action: string;
  dimensions: Record<string, string>;
  window: { id: string; key: string; start: string; end: string | null; elapsed_ms: number };
  limits: LimitStatus[];
  paused: { reason: string; by: string; at: string; until?: string } | null;
}

const HOUR = 3_600_000;

/** The status figures of one scope at `nowMs`, read from the ledger (exported for tests). */
export async function scopeStatus(
  store: BudgetLedger,
  b: Budget,
  scope: Record<string, string>,
  nowMs: number,
): Promise<ScopeStatus> {
  if (b.window === 'trace') throw new TypeError('per-run budgets have no shared window');
  const ref = windowRef(b.name, scope, b.window, nowMs);
  let id: string;
  let start: number;
  let end: number | null;
  if ('calendar' in b.window) {
    const span = calendarWindow(b.window, nowMs);
    id = span.id;
    start = span.startMs;
    end = span.endMs;
  } else {
    id = `rolling:${b.window.rollingMs}ms`;
    start = nowMs - b.window.rollingMs;
    end = null;
  }
  const limits = counterLimits(b);
  const counters: CounterName[] = limits.map((l) => l.counter);
  const pauseKey = ledgerKey(b.name, scope, 'paused');
  const t = await store.get(ref.readKeys, counters, pauseKey);
  if (t.unavailable === true)
    throw new CommandError('Redis did not answer while reading the budgets');
  const elapsed = nowMs - start;
  const figures = (
    unit: string,
    counter: string,
    limit: number,
    spent: number,
    reserved: number,
  ): LimitStatus => {
    const remaining = limit - spent - reserved;
    const perHour = elapsed > 0 ? spent / (elapsed / HOUR) : 0;
    const inMs = remaining <= 0 ? 0 : perHour > 0 ? Math.round((remaining / perHour) * HOUR) : null;
    return {
      unit,
      counter,
      limit,
      spent,
      reserved,
      remaining,
      burn_rate_per_hour: perHour,
      exhaustion_in_ms: inMs,
      exhaustion_at: inMs === null ? null : new Date(nowMs + inMs).toISOString(),
    };
  };
  const out: LimitStatus[] = [];
  if (b.limitUsd !== undefined)
    out.push(figures('USD', 'usd', b.limitUsd, t.spentUsd, t.reservedUsd));
  for (const l of limits) {
    const c = t.counts?.[l.counter] ?? { spent: 0, reserved: 0 };
    out.push(figures(l.what, l.counter, l.max, c.spent, c.reserved));
  }
  return {
    budget: b.name,
    action: b.action,
    dimensions: scope,
    window: {
      id,
      key: ref.writeKey,
      start: new Date(start).toISOString(),
      end: end === null ? null : new Date(end).toISOString(),
      elapsed_ms: elapsed,
    },
    limits: out,
    paused: t.paused === undefined ? null : pausedJson(t.paused),
  };
}

function pausedJson(p: PauseInfo): ScopeStatus['paused'] {
  return {
    reason: p.reason,
    by: p.by,
    at: at(p.at) as string,
    ...(p.until !== undefined ? { until: at(p.until) as string } : {}),
  };
}

/** `1d 04h`, `3h 05m`, `12m`, `< 1m`; `exhausted` at 0; `-` when nothing is spent. */
export function duration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms <= 0) return 'exhausted';
  const m = Math.floor(ms / 60_000);
  if (m < 1) return '< 1m';
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  const mm = m % 60;
  if (d > 0) return `${d}d ${String(h).padStart(2, '0')}h`;
  if (h > 0) return `${h}h ${String(mm).padStart(2, '0')}m`;
  return `${mm}m`;
}

/** A figure with fixed decimals: 4 for USD, none for counts (burn rates of counts: 1). */
function fixed(unit: string, n: number, rate = false): string {
  const decimals = unit === 'USD' ? 4 : rate ? 1 : 0;
  return n.toLocaleString('en-US', {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  });
}

/** The status as a table: one row per limit, numbers right-aligned. */
export function statusTable(
  nowMs: number,
  scopes: readonly ScopeStatus[],
  unlisted: readonly string[],
  pauses: readonly BudgetPause[],
): string {
  const head = [
    'budget',
    'window',
    'unit',
    'limit',
    'spent',
    'reserved',
    'remaining',
    'burn/h',
    'exhausted in',
  ];
  const rows: string[][] = [];
  for (const s of scopes) {
    const name =
      label(s.budget, s.dimensions).replace(/^budget "(.*)"/, '$1') + (s.paused ? ' [PAUSED]' : '');
    s.limits.forEach((l, i) => {
      rows.push([
        i === 0 ? name : '',
        i === 0 ? s.window.id : '',
        l.unit,
        fixed(l.unit, l.limit),
        fixed(l.unit, l.spent),
        fixed(l.unit, l.reserved),
        fixed(l.unit, l.remaining),
        fixed(l.unit, l.burn_rate_per_hour, true),
        duration(l.exhaustion_in_ms),
      ]);
    });
  }
  const widths = head.map((h, c) =>
    Math.max(h.length, ...rows.map((r) => (r[c] as string).length)),
  );
  const right = (c: number) => c >= 3 && c <= 8;
  const line = (r: string[]) =>
    r
      .map((v, c) => (right(c) ? v.padStart(widths[c] as number) : v.padEnd(widths[c] as number)))
      .join('  ')
      .trimEnd();
  const out = [`budgets at ${new Date(nowMs).toISOString()}`, '', line(head), ...rows.map(line)];
  for (const u of unlisted) out.push('', u);
  out.push('', pauses.length === 0 ? 'paused scopes: none' : 'paused scopes:');
  for (const p of pauses) {
    out.push(
      `  ${label(p.budget, p.dimensions ?? {})}: ${p.reason} (by ${p.by} at ${p.pausedAt}, ${p.until ? `until ${p.until}` : 'until resumed'})`,
    );
  }
  return `${out.join('\n')}\n`;
}

async function statusCommand(positionals: string[], values: Values, io: CliIO): Promise<number> {
  if (positionals.length > 1) throw new UsageError('status takes at most one BUDGET');
  const nowMs = (parseInstant('at', values.at) ?? new Date()).getTime();
  const dims = dimensionsOf(values.dimension) ?? {};
  const { ledger, store } = await open(values);
  try {
    let budgets = ledger.budgets.filter((b) => b.window !== 'trace');
    if (positionals[0] !== undefined) {
      const name = positionals[0];
      budgets = budgets.filter((b) => b.name === name);
      if (budgets.length === 0) {
        throw new UsageError(
          `unknown budget "${name}" (budgets with windows: ${
            ledger.budgets
              .filter((b) => b.window !== 'trace')
              .map((b) => b.name)
              .join(', ') || 'none'
          })`,
        );
      }
    }
    const pauses = await ledger.pauses().catch((e: unknown) => {
      throw new CommandError((e as Error).message);
    });
    const scopes: ScopeStatus[] = [];
    const unlisted: string[] = [];
    for (const b of budgets) {
      const perValue =
        b.scope === 'trace'
          ? []
          : Object.keys(b.scope).filter((k) => (b.scope as Record<string, unknown>)[k] === '*');
      if (perValue.every((k) => dims[k] !== undefined)) {
        const scope: Record<string, string> = {};
        for (const k of perValue) scope[k] = dims[k] as string;
        scopes.push(await scopeStatus(store, b, scope, nowMs));
      } else {
        unlisted.push(
          `${b.name}: one window per ${perValue.join(', ')}: add ${perValue.map((k) => `--dimension ${k}=VALUE`).join(' ')} to see one`,
        );
      }
    }
    if (values.json) {
      io.stdout(
        `${JSON.stringify({ at: new Date(nowMs).toISOString(), budgets: scopes, per_value: unlisted, pauses })}\n`,
      );
    } else io.stdout(statusTable(nowMs, scopes, unlisted, pauses));
    return EXIT.ok;
  } finally {
    await ledger.shutdown();
  }
}

/** `spanledger budgets ...`: returns the exit code. */
export async function runBudgets(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv);
  const [sub, ...rest] = positionals;
  if (values.help || sub === undefined) {
    (values.help ? io.stdout : io.stderr)(BUDGETS_USAGE);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  try {
    if (sub === 'status') return await statusCommand(rest, values, io);
    if (sub === 'pause') return await pauseCommand(rest, values, io);
    if (sub === 'resume') return await resumeCommand(rest, values, io);
  } catch (e) {
    if (e instanceof CommandError) {
      io.stderr(`spanledger budgets ${sub}: ${e.message}\n`);
      return EXIT.config;
    }
    throw e;
  }
  throw new UsageError(`unknown subcommand '${sub}' (status, pause or resume)`);
}
