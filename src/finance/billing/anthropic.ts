/**
 * Anthropic's Admin API cost report as billed rows (docs/finance.md, "Reconciling each
 * month"): `GET /v1/organizations/cost_report?starting_at&ending_at&bucket_width=1d&group_by[]=
 * description&limit&page` with `x-api-key` (an admin key) and `anthropic-version`; pages of
 * `{data: [{starting_at, ending_at, results: [{amount, currency, cost_type, description, model,
 * service_tier, token_type, ...}]}], has_more, next_page}`. `amount` is a decimal string in the
 * currency's lowest unit: `"123.45"` USD is $1.2345. Buckets are UTC days.
 */
import type { BilledRow } from '../model.js';
import {
  BillError,
  type BillFetchOptions,
  baseUrlOf,
  fetchPages,
  jsonDocuments,
  keyFrom,
  readBillText,
  record,
  requireUsd,
  utcDay,
} from './common.js';

/** The environment variable holding the admin key. */
export const ANTHROPIC_KEY_VAR = 'ANTHROPIC_ADMIN_KEY';
/** The environment variable overriding the API root (tests, proxies). */
export const ANTHROPIC_BASE_URL_VAR = 'SPANLEDGER_ANTHROPIC_BASE_URL';
/** The API root, without `/v1` (as the Anthropic SDK's base URL). */
export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';
/** The API version header sent. */
export const ANTHROPIC_VERSION = '2023-06-01';
/** `source` of rows fetched from the API. */
export const ANTHROPIC_API_SOURCE = 'anthropic-cost-report';

const DECIMAL = /^-?\d+(\.\d+)?$/;

/** Billed rows of cost report pages; `source` names where they came from. */
export function anthropicCostRows(pages: readonly unknown[], source: string): BilledRow[] {
  const rows: BilledRow[] = [];
  pages.forEach((p, pi) => {
    const page = record(p);
    if (page === undefined || !Array.isArray(page.data)) {
      throw new BillError(`${source}: page ${pi + 1} is not a cost report page (no data array)`);
    }
    page.data.forEach((b, bi) => {
      const bucket = record(b);
      const where = `${source}: page ${pi + 1}, bucket ${bi + 1}`;
      const start = typeof bucket?.starting_at === 'string' ? Date.parse(bucket.starting_at) : NaN;
      if (Number.isNaN(start)) throw new BillError(`${where}: starting_at is not an RFC 3339 time`);
      if (!Array.isArray(bucket?.results)) throw new BillError(`${where}: no results array`);
      const day = utcDay(start);
      bucket.results.forEach((r, ri) => {
        const result = record(r);
        const at = `${where}, result ${ri + 1}`;
        requireUsd(result?.currency, at);
        const amount = result?.amount;
        if (typeof amount !== 'string' || !DECIMAL.test(amount.trim())) {
          throw new BillError(`${at}: amount ${JSON.stringify(amount)} is not a decimal string`);
        }
        // Lowest currency unit: cents for USD.
        const costUsd = Number(amount.trim()) / 100;
        const model =
          typeof result?.model === 'string' && result.model !== '' ? result.model : undefined;
        rows.push({ day, provider: 'anthropic', model, costUsd, source });
      });
    });
  });
  return rows;
}

/** Billed rows of a downloaded cost report (one page, pages one after another, or an array). */
export function readAnthropicCostFile(path: string): BilledRow[] {
  return anthropicCostRows(jsonDocuments(readBillText(path), path), path);
}

/** How the Anthropic cost API is fetched. */
export type AnthropicFetchOptions = BillFetchOptions;

/** Billed rows fetched from the cost report, every page, with the key in `ANTHROPIC_ADMIN_KEY`. */
export async function fetchAnthropicCosts(o: AnthropicFetchOptions): Promise<BilledRow[]> {
  const key = keyFrom(o.env, ANTHROPIC_KEY_VAR);
  const base = baseUrlOf(o, ANTHROPIC_BASE_URL_VAR, ANTHROPIC_DEFAULT_BASE_URL);
  const url = new URL(`${base}/v1/organizations/cost_report`);
  url.searchParams.set('starting_at', o.from.toISOString());
  url.searchParams.set('ending_at', o.to.toISOString());
  url.searchParams.set('bucket_width', '1d');
  url.searchParams.append('group_by[]', 'description');
  // 31 daily buckets is the most the API returns per page.
  url.searchParams.set('limit', '31');
  const pages = await fetchPages({
    what: 'Anthropic cost report API',
    url,
    headers: {
      'x-api-key': key,
      'anthropic-version': ANTHROPIC_VERSION,
      Accept: 'application/json',
    },
    secret: key,
    secretVar: ANTHROPIC_KEY_VAR,
    ...(o.fetch ? { fetch: o.fetch } : {}),
  });
  return anthropicCostRows(pages, ANTHROPIC_API_SOURCE);
}
