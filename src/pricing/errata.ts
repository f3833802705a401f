/**
 * The errata layer: corrections to the pinned catalog (errata-data.ts), applied to a catalog
 * entry as it is resolved, so everything downstream (fast path, the catalog's own slow path,
 * user overrides, which come after) sees corrected prices. See docs/pricing.md, "Errata".
 */
import type { ModelInfo } from '@pydantic/genai-prices';
import { ERRATA, type Erratum } from './errata-data.js';

type Period = Extract<ModelInfo['prices'], unknown[]>[number];

/**
 * The errata that apply to a catalog entry reached by `emittedId`, in data order: those of the
 * model maker's list, then those of the cloud price list `list` (`vertex`) when one applies.
 */
export function errataFor(
  providerId: string,
  modelId: string,
  emittedId: string,
  list?: string,
  errata: readonly Erratum[] = ERRATA,
): Erratum[] {
  const id = emittedId.toLowerCase();
  const holds = (e: Erratum): boolean =>
    e.provider === providerId &&
    e.models.includes(modelId) &&
    (e.idContains === undefined || id.includes(e.idContains));
  const own = errata.filter((e) => e.list === undefined && holds(e));
  if (list === undefined) return own;
  return [...own, ...errata.filter((e) => e.list === list && holds(e))];
}

/**
 * A catalog entry with errata applied: the catalog's periods first, then one `start_date`
 * period per erratum. The catalog's rule (the last period whose constraint holds wins) makes an
 * erratum override every catalog period, time-of-day windows included, from its start on; an
 * erratum without a start replaces the prices outright.
 */
export function applyErrata(info: ModelInfo, errata: readonly Erratum[]): ModelInfo {
  if (errata.length === 0) return info;
  let periods: Period[] = Array.isArray(info.prices)
    ? [...(info.prices as Period[])]
    : [{ prices: info.prices } as Period];
  let id = info.id;
  let match = info.match;
  for (const e of errata) {
    if (e.asModel !== undefined) {
      // A different model than the entry's: say how its ids are recognised, not the entry's rule.
      id = e.asModel;
      match = e.idContains !== undefined ? { contains: e.idContains } : { equals: e.asModel };
    }
    const prices = e.prices as Period['prices'];
    if (e.from === undefined) periods = [{ prices } as Period];
    else periods.push({ constraint: { type: 'start_date', start_date: e.from }, prices } as Period);
  }
  const prices =
    periods.length === 1 && periods[0]?.constraint === undefined
      ? (periods[0] as Period).prices
      : periods;
  return { ...info, id, match, prices: prices as ModelInfo['prices'] };
}

/** Of the errata ids applied to an entry, those in force at `ms` (no start, or started). */
export function errataInForce(
  ids: readonly string[],
  ms: number,
  errata: readonly Erratum[] = ERRATA,
): string[] {
  return ids.filter((id) => {
    const e = errata.find((x) => x.id === id);
    return e !== undefined && (e.from === undefined || Date.parse(e.from) <= ms);
  });
}
