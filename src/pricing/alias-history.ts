/**
 * Undated aliases priced by date: a provider's alias (`gpt-4o`) points at one dated snapshot
 * and is re-pointed later, sometimes to a snapshot with another price. The catalog prices the
 * alias at today's snapshot; a span from before the switch is priced here at the snapshot the
 * alias pointed to when the span started. Only switches whose date the provider published are
 * listed; each entry names its source (docs/pricing.md, "Aliases by date").
 */

/** One alias's history: before `untilMs`, the alias meant `model`. Periods ascend. */
export interface AliasHistory {
  /** Catalog provider id the alias belongs to. */
  provider: string;
  /** The alias as called, lower case. */
  alias: string;
  periods: ReadonlyArray<{ untilMs: number; model: string }>;
  /** Where the dates come from. */
  source: string;
}

/** The published alias switches that change the price. */
export const ALIAS_HISTORY: readonly AliasHistory[] = [
  {
    provider: 'openai',
    alias: 'gpt-4o',
    // gpt-4o-2024-05-13 ($5 / $15 per million) until the alias moved to gpt-4o-2024-08-06
    // ($2.50 / $10) on 2024-10-02.
    periods: [{ untilMs: Date.parse('2024-10-02T00:00:00Z'), model: 'gpt-4o-2024-05-13' }],
    source: 'OpenAI API changelog, 2024-10-02: gpt-4o points to gpt-4o-2024-08-06',
  },
];

const byKey = new Map(ALIAS_HISTORY.map((h) => [`${h.provider}\u0000${h.alias}`, h]));

/** The history of `model` (as called) under the catalog provider `provider`, if it is a
 * listed alias. */
export function aliasHistory(provider: string, model: string): AliasHistory | undefined {
  return byKey.get(`${provider}\u0000${model.trim().toLowerCase()}`);
}
