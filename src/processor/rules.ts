/**
 * Unit-price rules for work the catalog does not price: tool and MCP calls, retrievals,
 * human review. Built once from the prices file; lookups are cached per name.
 */
import { globMatcher } from '../glob.js';
import type { PricesConfig } from '../pricing/config.js';

/** A rule's price for one span: cost, the quantity and unit it was priced on. */
export interface RulePrice {
  costUsd: number;
  quantity: number;
  unit: string;
}

type ToolRule = NonNullable<PricesConfig['tools']>[number];
type RetrievalRule = NonNullable<PricesConfig['retrievals']>[number];

function perUnit(
  perCall: number | undefined,
  perUnitUsd: number | undefined,
  unit: string | undefined,
  callUnit: string,
  quantity: number | undefined,
): RulePrice | 'missing_quantity' {
  if (perCall !== undefined) return { costUsd: perCall, quantity: 1, unit: callUnit };
  if (quantity === undefined) return 'missing_quantity';
  return { costUsd: (perUnitUsd ?? 0) * quantity, quantity, unit: unit ?? 'unit' };
}

/** The unit-price rules of one prices configuration. */
export class UnitRules {
  private readonly tools: {
    name?: (v: string) => boolean;
    mcp?: (v: string) => boolean;
    rule: ToolRule;
  }[];
  private readonly retrievals: {
    source?: (v: string) => boolean;
    db?: (v: string) => boolean;
    rule: RetrievalRule;
  }[];
  private readonly review: PricesConfig['humanReview'];

  constructor(config: PricesConfig) {
    this.tools = (config.tools ?? []).map((rule) => ({
      ...(rule.name !== undefined ? { name: globMatcher(rule.name) } : {}),
      ...(rule.mcpServer !== undefined ? { mcp: globMatcher(rule.mcpServer) } : {}),
      rule,
    }));
    this.retrievals = (config.retrievals ?? []).map((rule) => ({
      ...(rule.dataSource !== undefined ? { source: globMatcher(rule.dataSource) } : {}),
      ...(rule.dbSystem !== undefined ? { db: globMatcher(rule.dbSystem) } : {}),
      rule,
    }));
    this.review = config.humanReview;
  }

  /** Whether any retrieval rule names this database system (so its spans are retrievals). */
  isRetrievalSystem(dbSystem: string): boolean {
    return this.retrievals.some((r) => r.db?.(dbSystem));
  }

  /** Price a tool call by tool name and MCP server; undefined when no rule matches. */
  tool(
    name: string | undefined,
    mcpServer: string | undefined,
    quantity: number | undefined,
  ): RulePrice | 'missing_quantity' | undefined {
    for (const t of this.tools) {
      if (t.name && (name === undefined || !t.name(name))) continue;
      if (t.mcp && (mcpServer === undefined || !t.mcp(mcpServer))) continue;
      return perUnit(t.rule.perCallUsd, t.rule.perUnitUsd, t.rule.unit, 'call', quantity);
    }
    return undefined;
  }

  /** Price a retrieval by data source id or database system; undefined when no rule matches. */
  retrieval(
    dataSource: string | undefined,
    dbSystem: string | undefined,
    quantity: number | undefined,
  ): RulePrice | 'missing_quantity' | undefined {
    for (const r of this.retrievals) {
      if (r.source && (dataSource === undefined || !r.source(dataSource))) continue;
      if (r.db && (dbSystem === undefined || !r.db(dbSystem))) continue;
      return perUnit(r.rule.perQueryUsd, r.rule.perUnitUsd, r.rule.unit, 'query', quantity);
    }
    return undefined;
  }

  /** Price minutes of human review at the role's hourly rate; undefined with no rate set. */
  humanReview(minutes: number, role: string | undefined): RulePrice | undefined {
    if (!this.review) return undefined;
    const rate =
      (role !== undefined ? this.review.roles?.[role] : undefined) ?? this.review.ratePerHourUsd;
    return { costUsd: (rate * minutes) / 60, quantity: minutes, unit: 'minute' };
  }
}
