/**
 * What every bill source shares (docs/finance.md, "Reconciling each month"): one error type
 * whose message is one line, reading a downloaded bill file safely, splitting a file of several
 * JSON pages, and following a cost API's pages with a key that never reaches the output.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import type { Day } from '../model.js';

/** A bill that cannot be read or fetched: the message is one line naming the file or the API,
 * the entry and why. The CLI prints it and exits 1. */
export class BillError extends Error {
  override name = 'BillError';
}

/** The largest bill file read whole (JSON pages): 64 MiB, months of a large organisation's
 * daily buckets grouped by line item. FOCUS CSV files are streamed and have no such limit. */
export const MAX_BILL_FILE_BYTES = 64 * 1024 * 1024;

/** Most pages followed in one fetch: a bound on a server that keeps answering `has_more`. */
export const MAX_PAGES = 1000;

/** The text of a bill file: a regular file under {@link MAX_BILL_FILE_BYTES}. */
export function readBillText(path: string): string {
  let fd: number;
  try {
    // Non-blocking: opening a FIFO would otherwise wait for a writer.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new BillError(`cannot read ${path}: ${oneLine((e as Error).message)}`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new BillError(`cannot read ${path}: not a regular file`);
    if (stats.size > MAX_BILL_FILE_BYTES) {
      throw new BillError(
        `cannot read ${path}: ${stats.size} bytes is over the ${MAX_BILL_FILE_BYTES / 1024 / 1024} MiB limit of a bill file`,
      );
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * The JSON documents of a bill file: one page, pages written one after the other (what
 * appending each `curl` answer to a file gives), or one array of pages. Whitespace between
 * documents is allowed; anything else is an error naming the offset.
 */
export function jsonDocuments(text: string, path: string): unknown[] {
  const docs: unknown[] = [];
  let i = 0;
  const n = text.length;
  const skipSpace = () => {
    while (i < n && /[\s\uFEFF]/.test(text[i] as string)) i++;
  };
  skipSpace();
  while (i < n) {
    const start = i;
    const open = text[i];
    if (open !== '{' && open !== '[') {
      throw new BillError(`cannot parse ${path}: expected a JSON object or array at offset ${i}`);
    }
    // Find the matching close outside strings; JSON.parse then checks the document itself.
    let depth = 0;
    let inString = false;
    for (; i < n; i++) {
      const c = text[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      }
    }
    if (depth !== 0)
      throw new BillError(`cannot parse ${path}: unterminated JSON at offset ${start}`);
    let doc: unknown;
    try {
      doc = JSON.parse(text.slice(start, i));
    } catch (e) {
      throw new BillError(
        `cannot parse ${path} at offset ${start}: ${oneLine((e as Error).message)}`,
      );
    }
    if (Array.isArray(doc)) docs.push(...doc);
    else docs.push(doc);
    skipSpace();
  }
  if (docs.length === 0) throw new BillError(`cannot parse ${path}: no JSON page in it`);
  return docs;
}

/** `YYYY-MM-DD` of an instant in UTC: provider buckets are UTC days. */
export function utcDay(ms: number): Day {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A message on one line, at most 300 characters. */
export function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

/** A plain object, or `undefined`. */
export function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

/** How one cost API is called: where, with which headers, and how its pages chain. */
export interface PagedRequest {
  /** For messages: `OpenAI Costs API`. */
  what: string;
  /** The first page's URL. */
  url: URL;
  headers: Record<string, string>;
  /** The key sent, so that no message can echo it (a provider's error may quote it). */
  secret: string;
  /** The environment variable the key came from, for messages. */
  secretVar: string;
  fetch?: typeof fetch;
  /** Per request, ms (default 30 s). */
  timeoutMs?: number;
}

/**
 * Every page of a cost API: follows `has_more` / `next_page` (set as the `page` query
 * parameter) until the last page. A refused key, an HTTP error or a body that is not JSON is a
 * {@link BillError} of one line that names the API and the variable, never the key.
 */
export async function fetchPages(req: PagedRequest): Promise<unknown[]> {
  const doFetch = req.fetch ?? fetch;
  const pages: unknown[] = [];
  const seen = new Set<string>();
  const url = new URL(req.url);
  const redact = (s: string) => (req.secret === '' ? s : s.split(req.secret).join('[redacted]'));
  for (let n = 0; n < MAX_PAGES; n++) {
    let res: Response;
    try {
      res = await doFetch(url, {
        headers: req.headers,
        signal: AbortSignal.timeout(req.timeoutMs ?? 30_000),
      });
    } catch (e) {
      throw new BillError(`${req.what} at ${url.origin}: ${redact(oneLine((e as Error).message))}`);
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403) {
      throw new BillError(
        `${req.what} refused the key in ${req.secretVar} (HTTP ${res.status}${detail(text, redact)}); it needs an admin key`,
      );
    }
    if (!res.ok) {
      throw new BillError(`${req.what} answered HTTP ${res.status}${detail(text, redact)}`);
    }
    let page: unknown;
    try {
      page = JSON.parse(text);
    } catch {
      throw new BillError(`${req.what} answered something that is not JSON (HTTP ${res.status})`);
    }
    pages.push(page);
    const p = record(page);
    const next = p?.next_page;
    if (p?.has_more !== true) return pages;
    if (typeof next !== 'string' || next === '') {
      // Stopping here would drop the rest of the bill without a word.
      throw new BillError(`${req.what} said has_more with no next_page token`);
    }
    if (seen.has(next)) throw new BillError(`${req.what} repeated the page token ${next}`);
    seen.add(next);
    url.searchParams.set('page', next);
  }
  throw new BillError(`${req.what}: more than ${MAX_PAGES} pages; narrow --from/--to`);
}

/** `: message` from a provider's error body (`{error: {message}}`), redacted, or ''. */
function detail(text: string, redact: (s: string) => string): string {
  try {
    const body = record(JSON.parse(text));
    const err = record(body?.error);
    const msg = err?.message ?? body?.message;
    return typeof msg === 'string' && msg !== '' ? `: ${redact(oneLine(msg))}` : '';
  } catch {
    return '';
  }
}

/** How a provider's cost API is fetched (the same options for every provider). */
export interface BillFetchOptions {
  /** First UTC day's midnight, inclusive. */
  from: Date;
  /** Last UTC day's end, exclusive. */
  to: Date;
  env: Readonly<Record<string, string | undefined>>;
  /** Overrides the provider's base URL variable. */
  baseUrl?: string;
  fetch?: typeof fetch;
}

/** The API root: the option, else the environment variable, else the provider's default;
 * without a trailing slash. */
export function baseUrlOf(o: BillFetchOptions, variable: string, fallback: string): string {
  return (o.baseUrl ?? o.env[variable] ?? fallback).replace(/\/+$/, '');
}

/** A key from the environment, or a one-line error naming the variable. */
export function keyFrom(env: Readonly<Record<string, string | undefined>>, name: string): string {
  const key = env[name]?.trim();
  if (key === undefined || key === '') {
    throw new BillError(`${name} is not set: the admin key the cost API needs`);
  }
  return key;
}

/** Refuses a currency other than USD (estimates are USD; no rate is applied here). */
export function requireUsd(currency: unknown, where: string): void {
  if (typeof currency !== 'string' || currency.trim().toUpperCase() !== 'USD') {
    throw new BillError(
      `${where}: currency ${JSON.stringify(currency)} is not USD; reconcile compares USD amounts only`,
    );
  }
}
