/**
 * Budget decisions: which limit a call would break, and how that is told to the caller (a
 * decision from `check`, a `BudgetExceededError` from `enforce`, `reserve` and `guard`). Every
 * decision that is not `allow` names the limit that decided, in its own unit, and why
 * (docs/budgets.md, "Decisions and refusals").
 */
import {
  type Budget,
  type BudgetAction,
  type DegradeSuggestion,
  TOKEN_TYPES,
  type TokenCounts,
  type TokenType,
} from './config.js';
import type { RepeatCounter } from './fingerprint.js';
import { toolCallFingerprint } from './fingerprint.js';
import type { Amounts, CounterName, CounterTotals } from './types.js';

/** Which limit decided: a budget's limit, or the ledger's state. */
export type BudgetLimit =
  | 'limit_usd'
  | 'max_llm_calls'
  | 'max_tool_calls'
  | 'max_tokens'
  | 'max_repeated_tool_calls'
  /** A fail-closed ledger cannot reach its store. */
  | 'ledger_unavailable'
  /** The ledger was shut down. */
  | 'ledger_closed'
  /** The budget's scope is paused (by a person, or by an `action: pause` budget at its limit)
   * until resumed. */
  | 'paused';

/** The unit a limit counts in. */
export type LimitUnit = 'USD' | 'calls' | 'tokens';

/** Why a budget decided as it did: the limit, its unit and the figures compared. */
export interface BudgetRefusal {
  /** The budget that decided. */
  budget: string;
  /** Which limit. */
  limit: BudgetLimit;
  /** The unit of `used` and `max` (`USD` for USD limits, absent for ledger states). */
  unit?: LimitUnit;
  /** The budget's USD limit, when it has one. */
  limitUsd?: number;
  /** Spent in the window or run, USD (settled, plus reservations held in calendar and rolling
   * windows). Absent when unknown: a ledger that cannot be read reports no spend, not 0. */
  spentUsd?: number;
  /** Held by reservations of calls in flight, USD (calendar and rolling windows, when any). */
  reservedUsd?: number;
  /** The estimate of the call being decided, USD (USD limits, when one was given). */
  estimateUsd?: number;
  /** Count limits: calls or tokens used so far. */
  used?: number;
  /** Count limits: the cap. */
  max?: number;
  /** `paused`: who paused the scope (`alice@ops-1`, or `spanledger (action: pause)`). */
  pausedBy?: string;
  /** `paused`: when, ISO 8601 UTC. */
  pausedAt?: string;
  /** `paused`: when the pause lifts by itself, ISO 8601 UTC; absent: when a person resumes it. */
  until?: string;
  /** One line: `spent 0.032 + estimate 0.02 would exceed 0.05 USD`, `5 of 5 LLM calls used`,
   * `ledger unavailable (fail-closed)`, `paused by alice@ops-1 at ...: runaway loop`. */
  reason: string;
}

/** What a budget check tells the caller to do. */
export interface BudgetDecision extends Partial<BudgetRefusal> {
  /** `allow` when no budget is exceeded; otherwise the most severe action of those that are
   * (`block` for a paused scope and for a `pause` budget: the caller stops). */
  action: 'allow' | BudgetAction;
  /** USD left under the deciding budget (or the tightest USD budget when allowed). Absent when
   * unknown. */
  remainingUsd?: number;
  /** For `degrade`: what to step down to. */
  suggestion?: DegradeSuggestion;
}

/** Thrown by `enforce`, `reserve` and guarded calls when a `block` budget says no, before any
 * money is spent. Carries the budget, the limit that decided, the figures and the reason. */
export class BudgetExceededError extends Error implements BudgetRefusal {
  override name = 'BudgetExceededError';
  readonly budget: string;
  readonly limit: BudgetLimit;
  readonly unit?: LimitUnit;
  readonly limitUsd?: number;
  readonly spentUsd?: number;
  readonly reservedUsd?: number;
  readonly estimateUsd?: number;
  readonly used?: number;
  readonly max?: number;
  readonly pausedBy?: string;
  readonly pausedAt?: string;
  readonly until?: string;
  readonly reason: string;

  constructor(refusal: BudgetRefusal) {
    super(
      `spanledger: budget "${refusal.budget}" blocks this call (${refusal.limit}: ${refusal.reason})`,
    );
    this.budget = refusal.budget;
    this.limit = refusal.limit;
    this.reason = refusal.reason;
    for (const k of FIGURES) {
      if (refusal[k] !== undefined) (this as Record<string, unknown>)[k] = refusal[k];
    }
  }
}

const FIGURES = [
  'unit',
  'limitUsd',
  'spentUsd',
  'reservedUsd',
  'estimateUsd',
  'used',
  'max',
  'pausedBy',
  'pausedAt',
  'until',
] as const satisfies readonly (keyof BudgetRefusal)[];

/** What a check is about. */
export interface CheckInput {
  /** Estimated cost of the call about to be made, USD. Default 0. */
  estimateUsd?: number;
  /** Estimated tokens of the call about to be made, held on window token limits until it
   * returns: input plus output (e.g. the prompt's tokens plus the request's max output tokens),
   * or by type. A total is held on every per-type limit too (no type can exceed it); types not
   * given count 0. Default 0: the call fits while the window has a token left. */
  estimateTokens?: number | TokenCounts;
  /** The kind of call: an LLM call counts against `maxLlmCalls`, a tool call against
   * `maxToolCalls` and, with a name, `maxRepeatedToolCalls`. Not given: the call may be of any
   * kind, so a per-run call cap that is already reached refuses it. */
  call?: { kind: 'llm' } | { kind: 'tool'; name: string; arguments?: unknown };
  /** Attribution dimensions (`team`, `tenant`, ...); default: read off the active spans and the
   * service's resource. */
  dimensions?: Readonly<Record<string, string | undefined>>;
}

/** The per-run counters a decision reads (the run's rollup state). */
export interface RunCounters {
  readonly costUsd: number;
  readonly llmCalls: number;
  readonly toolCalls: number;
  /** Input plus output tokens of the run's model calls. */
  readonly tokens: number;
  readonly repeats: RepeatCounter | undefined;
  /** Most repetitions of one identical tool call so far. */
  readonly maxRepeat: number;
  /** What guarded calls of the run now in flight hold (created by the first). */
  readonly held?: RunHeld | undefined;
}

/** Per-run holds of guarded calls in flight: the estimate and one call of its kind each (a call
 * of unknown kind holds one of each), so that concurrent calls of one run cannot all pass a cap
 * only some of them fit. Released when the call returns, when its real spend has been counted. */
export interface RunHeld {
  usd: number;
  llm: number;
  tool: number;
}

/** Money in messages: the double as written, trimmed of binary noise (0.1 + 0.2 reads 0.3);
 * the fields keep the exact value. */
export function usd(x: number): string {
  return String(Number(x.toPrecision(12)));
}

const countLimit = (
  limit: BudgetLimit,
  used: number,
  max: number,
  what: string,
  unit: LimitUnit = 'calls',
  inFlight = 0,
) => ({
  limit,
  unit,
  used,
  max,
  reason: `${used} of ${max} ${what} used${inFlight > 0 ? ` (${inFlight} in flight)` : ''}`,
});

/**
 * Which per-run limit the next call would break, with its figures; with `pending`, which one
 * the run has already broken (a call of any kind is then refused: the run is over its cap).
 */
export function runLimitHit(
  b: Budget,
  run: RunCounters,
  estimateUsd: number,
  call: CheckInput['call'],
  pending = false,
): Omit<BudgetRefusal, 'budget'> | undefined {
  // Calls in flight count for the next call's decision, not for what already happened.
  const held = pending ? undefined : run.held;
  if (b.limitUsd !== undefined) {
    const spent = run.costUsd + (held?.usd ?? 0);
    const over = pending ? run.costUsd > b.limitUsd : spent + estimateUsd > b.limitUsd;
    if (over) {
      return {
        limit: 'limit_usd',
        unit: 'USD',
        limitUsd: b.limitUsd,
        spentUsd: run.costUsd,
        ...(estimateUsd > 0 ? { estimateUsd } : {}),
        ...(held !== undefined && held.usd > 0 ? { reservedUsd: held.usd } : {}),
        reason:
          (held !== undefined && held.usd > 0
            ? `run spent ${usd(run.costUsd)} + held ${usd(held.usd)}`
            : `run spent ${usd(run.costUsd)}`) +
          (estimateUsd > 0 && spent <= b.limitUsd
            ? ` + estimate ${usd(estimateUsd)} would exceed ${usd(b.limitUsd)} USD`
            : ` exceeds ${usd(b.limitUsd)} USD`),
      };
    }
  }
  // The next call counts one more; a call of unknown kind may be either.
  const next = pending ? 0 : 1;
  const llm = pending || call === undefined || call.kind === 'llm';
  const llmUsed = run.llmCalls + (held?.llm ?? 0);
  if (b.maxLlmCalls !== undefined && llm && llmUsed + next > b.maxLlmCalls) {
    return countLimit('max_llm_calls', llmUsed, b.maxLlmCalls, 'LLM calls', 'calls', held?.llm);
  }
  const tool = pending || call === undefined || call.kind === 'tool';
  const toolUsed = run.toolCalls + (held?.tool ?? 0);
  if (b.maxToolCalls !== undefined && tool && toolUsed + next > b.maxToolCalls) {
    return countLimit(
      'max_tool_calls',
      toolUsed,
      b.maxToolCalls,
      'tool calls',
      'calls',
      held?.tool,
    );
  }
  // Per-run token caps are a number (config.ts refuses per-type caps on runs).
  const maxTokens = typeof b.maxTokens === 'number' ? b.maxTokens : undefined;
  if (maxTokens !== undefined && (pending ? run.tokens > maxTokens : run.tokens >= maxTokens)) {
    return countLimit('max_tokens', run.tokens, maxTokens, 'tokens', 'tokens');
  }
  if (b.maxRepeatedToolCalls !== undefined) {
    if (pending && run.maxRepeat > b.maxRepeatedToolCalls) {
      return countLimit(
        'max_repeated_tool_calls',
        run.maxRepeat,
        b.maxRepeatedToolCalls,
        'identical tool calls',
      );
    }
    if (!pending && call?.kind === 'tool') {
      const seen = run.repeats?.count(toolCallFingerprint(call.name, call.arguments)) ?? 0;
      if (seen + 1 > b.maxRepeatedToolCalls) {
        return countLimit(
          'max_repeated_tool_calls',
          seen,
          b.maxRepeatedToolCalls,
          `identical calls of ${call.name}`,
        );
      }
    }
  }
  return undefined;
}

/** A calendar or rolling window's USD limit against its totals. */
export function windowLimitHit(
  limitUsd: number,
  spentUsd: number,
  reservedUsd: number,
  estimateUsd: number,
): Omit<BudgetRefusal, 'budget'> | undefined {
  if (spentUsd + reservedUsd + estimateUsd <= limitUsd) return undefined;
  const parts = [`spent ${usd(spentUsd)}`];
  if (reservedUsd > 0) parts.push(`reserved ${usd(reservedUsd)}`);
  // Over the limit before this call: the estimate is not what decided, so it is not named.
  const already = spentUsd + reservedUsd > limitUsd || estimateUsd === 0;
  if (!already) parts.push(`estimate ${usd(estimateUsd)}`);
  return {
    limit: 'limit_usd',
    unit: 'USD',
    limitUsd,
    spentUsd,
    ...(reservedUsd > 0 ? { reservedUsd } : {}),
    ...(estimateUsd > 0 ? { estimateUsd } : {}),
    reason: `${parts.join(' + ')} ${already ? 'exceeds' : 'would exceed'} ${usd(limitUsd)} USD`,
  };
}

/** A calendar or rolling window's limit other than USD, kept as a ledger counter. */
export interface CounterLimit {
  /** The ledger counter (`llm_calls`, `tool_calls`, `tokens`, `tokens.input`, ...). */
  readonly counter: CounterName;
  readonly limit: 'max_llm_calls' | 'max_tool_calls' | 'max_tokens';
  readonly unit: 'calls' | 'tokens';
  readonly max: number;
  /** What is counted, in messages: `LLM calls`, `tokens`, `input tokens`. */
  readonly what: string;
  /** Which calls count against it: LLM calls, tool calls. */
  readonly kind: 'llm' | 'tool';
}

const TYPE_WORDS: Record<TokenType, string> = {
  input: 'input tokens',
  output: 'output tokens',
  cacheRead: 'cache read tokens',
  cacheWrite: 'cache write tokens',
  reasoning: 'reasoning tokens',
};

/** The counter limits of a calendar or rolling budget (none for a USD-only budget). */
export function counterLimits(b: Budget): CounterLimit[] {
  const out: CounterLimit[] = [];
  if (b.maxLlmCalls !== undefined) {
    out.push({
      counter: 'llm_calls',
      limit: 'max_llm_calls',
      unit: 'calls',
      max: b.maxLlmCalls,
      what: 'LLM calls',
      kind: 'llm',
    });
  }
  if (b.maxToolCalls !== undefined) {
    out.push({
      counter: 'tool_calls',
      limit: 'max_tool_calls',
      unit: 'calls',
      max: b.maxToolCalls,
      what: 'tool calls',
      kind: 'tool',
    });
  }
  const tokens = (counter: string, max: number, what: string): CounterLimit => ({
    counter,
    limit: 'max_tokens',
    unit: 'tokens',
    max,
    what,
    kind: 'llm',
  });
  if (typeof b.maxTokens === 'number') out.push(tokens('tokens', b.maxTokens, 'tokens'));
  else if (b.maxTokens !== undefined) {
    for (const t of TOKEN_TYPES) {
      const max = b.maxTokens[t];
      if (max !== undefined) out.push(tokens(`tokens.${t}`, max, TYPE_WORDS[t]));
    }
  }
  return out;
}

/** Whether a limit counts calls of this kind (a call of unknown kind may be either). */
export function countsCall(l: CounterLimit, call: CheckInput['call']): boolean {
  return call === undefined || call.kind === l.kind;
}

/** What a call about to be made holds on a counter: one call of its kind, its estimated tokens. */
export function callAmount(l: CounterLimit, estimateTokens: CheckInput['estimateTokens']): number {
  if (l.unit === 'calls') return 1;
  if (estimateTokens === undefined) return 0;
  if (typeof estimateTokens === 'number') return estimateTokens;
  if (l.counter === 'tokens') return (estimateTokens.input ?? 0) + (estimateTokens.output ?? 0);
  return estimateTokens[l.counter.slice('tokens.'.length) as TokenType] ?? 0;
}

/** The token counts of one model call, as usage records count them. */
export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
  readonly reasoningTokens: number;
}

/** What one ended span adds to a counter: an LLM call and its tokens, or a tool call. */
export function spanAmount(l: CounterLimit, llm: TokenUsage | undefined, tool: boolean): number {
  switch (l.counter) {
    case 'llm_calls':
      return llm === undefined ? 0 : 1;
    case 'tool_calls':
      return tool ? 1 : 0;
  }
  if (llm === undefined) return 0;
  switch (l.counter) {
    case 'tokens':
      return llm.inputTokens + llm.outputTokens;
    case 'tokens.input':
      return llm.inputTokens;
    case 'tokens.output':
      return llm.outputTokens;
    case 'tokens.cacheRead':
      return llm.cacheReadTokens;
    case 'tokens.cacheWrite':
      return llm.cacheWriteTokens;
    case 'tokens.reasoning':
      return llm.reasoningTokens;
  }
  return 0;
}

/** Amounts of the counters of `limits` a write carries (`pick(limit)` each; zeros left out). */
export function amountsOf(
  limits: readonly CounterLimit[],
  pick: (l: CounterLimit) => number,
): Record<CounterName, number> | undefined {
  let out: Record<CounterName, number> | undefined;
  for (const l of limits) {
    const n = pick(l);
    if (n > 0) {
      out ??= {};
      out[l.counter] = n;
    }
  }
  return out;
}

/** Whether any amount is positive. */
export function anyAmount(a: Amounts | undefined): boolean {
  if (a === undefined) return false;
  for (const k in a) if ((a[k] ?? 0) > 0) return true;
  return false;
}

/** A calendar or rolling window's counter limit against its totals, for a call holding
 * `amount` (the ledger's comparison: a used-up counter admits nothing, not even zero). */
export function counterLimitHit(
  l: CounterLimit,
  t: CounterTotals,
  amount: number,
): Omit<BudgetRefusal, 'budget'> | undefined {
  const used = t.spent + t.reserved;
  if (amount > 0 ? used + amount <= l.max : used < l.max) return undefined;
  const inFlight = t.reserved > 0 ? ` (${t.reserved} in flight)` : '';
  const over = used >= l.max || amount === 0;
  return {
    limit: l.limit,
    unit: l.unit,
    used,
    max: l.max,
    reason: `${used} of ${l.max} ${l.what} used${inFlight}${over ? '' : ` + estimate ${amount} would exceed the limit`}`,
  };
}

/** A ledger state that decides for `block` budgets, whatever the totals say. */
export function ledgerStateHit(
  b: Budget,
  state: 'ledger_unavailable' | 'ledger_closed',
): Omit<BudgetRefusal, 'budget'> {
  return {
    limit: state,
    ...(b.limitUsd !== undefined ? { limitUsd: b.limitUsd } : {}),
    reason:
      state === 'ledger_unavailable'
        ? 'ledger unavailable (fail-closed)'
        : 'ledger closed (shut down)',
  };
}

/** A paused scope: refused whatever the budget's action, with who paused it, when, and why. */
export function pausedHit(
  b: Budget,
  pause: { reason: string; by: string; at: number; until?: number },
): Omit<BudgetRefusal, 'budget'> {
  const at = new Date(pause.at).toISOString();
  const until = pause.until === undefined ? undefined : new Date(pause.until).toISOString();
  return {
    limit: 'paused',
    ...(b.limitUsd !== undefined ? { limitUsd: b.limitUsd } : {}),
    pausedBy: pause.by,
    pausedAt: at,
    ...(until !== undefined ? { until } : {}),
    reason: `paused by ${pause.by} at ${at}${until !== undefined ? ` until ${until}` : ''}: ${pause.reason}`,
  };
}

/** The decision of one budget whose limit was hit. A paused scope, and a `pause` budget at its
 * limit, decide `block`: the caller stops, as for a `block` budget. */
export function decide(b: Budget, hit: Omit<BudgetRefusal, 'budget'>): BudgetDecision {
  const action = hit.limit === 'paused' || b.action === 'pause' ? 'block' : b.action;
  const d: BudgetDecision = { action, budget: b.name, ...hit };
  if (hit.limit === 'limit_usd' && hit.limitUsd !== undefined && hit.spentUsd !== undefined) {
    d.remainingUsd = hit.limitUsd - hit.spentUsd - (hit.reservedUsd ?? 0);
  }
  if (b.action === 'degrade' && b.degrade) d.suggestion = b.degrade;
  return d;
}

const SEVERITY: Record<'allow' | BudgetAction, number> = {
  allow: 0,
  alert: 1,
  degrade: 2,
  block: 3,
  pause: 3,
};

/** Whether `d` should replace `best`: more severe, or as severe with less room left. */
export function moreSevere(d: BudgetDecision, best: BudgetDecision): boolean {
  const a = SEVERITY[d.action];
  const b = SEVERITY[best.action];
  if (a !== b) return a > b;
  return (
    d.action !== 'allow' &&
    (d.remainingUsd ?? Number.POSITIVE_INFINITY) < (best.remainingUsd ?? Number.POSITIVE_INFINITY)
  );
}

/** The refusal a `block` decision carries. */
export function refusalOf(d: BudgetDecision): BudgetRefusal {
  return { ...d, budget: d.budget ?? '?', limit: d.limit ?? 'limit_usd', reason: d.reason ?? '' };
}
