/**
 * OpenAI's organization Costs API as billed rows (docs/finance.md, "Reconciling each month"):
 * `GET /v1/organization/costs?start_time&end_time&bucket_width=1d&group_by=line_item&limit&page`
 * with an admin key, pages of `{object: "page", data: [{object: "bucket", start_time, end_time,
 * results: [{object: "organization.costs.result", amount: {value, currency}, line_item,
 * project_id}]}], has_more, next_page}`. Buckets are UTC days; `amount.value` is dollars.
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
export const OPENAI_KEY_VAR = 'OPENAI_ADMIN_KEY';
/** The environment variable overriding the API root (tests, proxies). */
export const OPENAI_BASE_URL_VAR = 'SPANLEDGER_OPENAI_BASE_URL';
/** The API root, `/v1` included (as the OpenAI SDK's base URL). */
export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';
/** `source` of rows fetched from the API. */
export const OPENAI_API_SOURCE = 'openai-costs-api';

/** What a line item names: the model (`undefined` for lines no model explains, such as
 * `web search tool calls`), the token kind and the service tier prefix when present. */
export interface OpenAILineItem {
  model: string | undefined;
  kind: string | undefined;
  tier: string | undefined;
}

// A modality word the Costs API puts after the model id (`gpt-audio-mini-2025-12-15 audio, input`).
const MODALITY = /^(audio|image|text|video)$/i;
const MODEL_ID = /^[A-Za-z0-9][\w.:/-]*$/;

/**
 * Splits a line item into model and token kind: `gpt-4o-2024-08-06, input` → model
 * `gpt-4o-2024-08-06`, kind `input`; `priority | gpt-5, output` → tier `priority`;
 * `gpt-image-1 image, output` → model `gpt-image-1`. A line with no model-like id before the
 * comma (`web search tool calls`, `Vector storage`) has no model.
 */
export function parseOpenAILineItem(lineItem: string | null | undefined): OpenAILineItem {
  if (lineItem === null || lineItem === undefined || lineItem.trim() === '') {
    return { model: undefined, kind: undefined, tier: undefined };
  }
  let text = lineItem.trim();
  let tier: string | undefined;
  const bar = text.indexOf('|');
  if (bar > 0) {
    tier = text.slice(0, bar).trim().toLowerCase();
    text = text.slice(bar + 1).trim();
  }
  const comma = text.indexOf(',');
  const head = (comma < 0 ? text : text.slice(0, comma)).trim();
  const kind = comma < 0 ? undefined : text.slice(comma + 1).trim() || undefined;
  const words = head.split(/\s+/);
  let model: string | undefined;
  if (words.length === 1 && MODEL_ID.test(head) && /\d|-/.test(head)) model = head;
  else if (
    words.length === 2 &&
    MODEL_ID.test(words[0] as string) &&
    MODALITY.test(words[1] as string)
  ) {
    model = words[0];
  }
  return { model, kind, tier };
}

/** Billed rows of Costs API pages; `source` names where they came from. */
export function openAICostRows(pages: readonly unknown[], source: string): BilledRow[] {
  const rows: BilledRow[] = [];
  pages.forEach((p, pi) => {
    const page = record(p);
    if (page === undefined || !Array.isArray(page.data)) {
      throw new BillError(`${source}: page ${pi + 1} is not a Costs API page (no data array)`);
    }
    page.data.forEach((b, bi) => {
      const bucket = record(b);
      const where = `${source}: page ${pi + 1}, bucket ${bi + 1}`;
      const start = bucket?.start_time;
      if (typeof start !== 'number' || !Number.isFinite(start)) {
        throw new BillError(`${where}: start_time is not a unix time`);
      }
      // The reference calls the list `result` in places; the API answers `results`.
      const results = bucket?.results ?? bucket?.result;
      if (!Array.isArray(results)) throw new BillError(`${where}: no results array`);
      const day = utcDay(start * 1000);
      results.forEach((r, ri) => {
        const result = record(r);
        const amount = record(result?.amount);
        const at = `${where}, result ${ri + 1}`;
        if (amount === undefined) throw new BillError(`${at}: no amount`);
        requireUsd(amount.currency, at);
        const value = typeof amount.value === 'string' ? Number(amount.value) : amount.value;
        if (typeof value !== 'number' || !Number.isFinite(value) || amount.value === '') {
          throw new BillError(
            `${at}: amount.value ${JSON.stringify(amount.value)} is not a number`,
          );
        }
        const item = result?.line_item;
        const { model } = parseOpenAILineItem(typeof item === 'string' ? item : undefined);
        rows.push({ day, provider: 'openai', model, costUsd: value, source });
      });
    });
  });
  return rows;
}

/** Billed rows of a downloaded Costs API answer (one page, pages one after another, or an
 * array of pages). */
export function readOpenAICostsFile(path: string): BilledRow[] {
  return openAICostRows(jsonDocuments(readBillText(path), path), path);
}

/** How the OpenAI cost API is fetched. */
export type OpenAIFetchOptions = BillFetchOptions;

/** Billed rows fetched from the Costs API, every page, with the key in `OPENAI_ADMIN_KEY`. */
export async function fetchOpenAICosts(o: OpenAIFetchOptions): Promise<BilledRow[]> {
  const key = keyFrom(o.env, OPENAI_KEY_VAR);
  const base = baseUrlOf(o, OPENAI_BASE_URL_VAR, OPENAI_DEFAULT_BASE_URL);
  const url = new URL(`${base}/organization/costs`);
  const days = Math.ceil((o.to.getTime() - o.from.getTime()) / 86_400_000);
  url.searchParams.set('start_time', String(Math.floor(o.from.getTime() / 1000)));
  url.searchParams.set('end_time', String(Math.floor(o.to.getTime() / 1000)));
  url.searchParams.set('bucket_width', '1d');
  url.searchParams.set('group_by', 'line_item');
  // 180 buckets is the API's most per page; fewer days need one page.
  url.searchParams.set('limit', String(Math.min(180, Math.max(1, days))));
  const pages = await fetchPages({
    what: 'OpenAI Costs API',
    url,
    headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' },
    secret: key,
    secretVar: OPENAI_KEY_VAR,
    ...(o.fetch ? { fetch: o.fetch } : {}),
  });
  return openAICostRows(pages, OPENAI_API_SOURCE);
}
