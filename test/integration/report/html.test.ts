/**
 * `spanledger report --html`: the page `renderHtml` writes, opened in headless Chromium (Debian's
 * package, provisioned by scripts/chromium.mjs) with every request blocked. Rendered from a small
 * hand-written model (test/fixtures/report/model.json) whose tenant and one span name carry HTML
 * that would run or fetch if it were not escaped.
 *
 * Checked: the page loads with zero requests and no console message; every chart was drawn from
 * the model's figures (Chart.js's own data, and the bar colour at each bar's centre on the
 * canvas); the printed totals equal the model's; the printed rows of every table add up to its
 * printed total; unpriced spans read `unpriced`, never $0; each top trace's waterfall lists its
 * spans in order with their depth, offsets and costs; nothing from the spans runs. A screenshot is
 * saved as `test-artifacts/report.png` (docs/img/report.png is a copy of it).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apportion, renderHtml } from '../../../src/cli/report/html.js';
import type { ReportModel } from '../../../src/cli/report/model.js';
import { ROOT } from '../../support/built.js';
import { requiredChromium } from '../../support/chromium.js';

const MODEL = JSON.parse(
  readFileSync(join(ROOT, 'test/fixtures/report/model.json'), 'utf8'),
) as ReportModel;
const ARTIFACTS = join(ROOT, 'test-artifacts');
/** What the fixture's hostile strings would do if they ran. */
const HOSTILE_SPAN = '<script>window.pwned=true</script>plan';
const HOSTILE_TENANT = 'globex<img src=x onerror="window.pwned=true">';
/** The bars' colour (#4e79a7). */
const BAR_RGB = [78, 121, 167];

/** Text of a DOM node. */
interface TextNode {
  textContent: string | null;
}
/**
 * The few DOM types the in-page probes use. The project's TypeScript has no DOM library (the
 * sources run on Node, where a `window` must not type-check), so the probes cast `globalThis`.
 */
interface El extends TextNode {
  id: string;
  children: Iterable<El> & ArrayLike<El>;
  childNodes: ArrayLike<TextNode>;
  style: { width: string };
  getAttribute(name: string): string | null;
  hasAttribute(name: string): boolean;
  querySelector(selector: string): El | null;
  querySelectorAll(selector: string): Iterable<El>;
}
interface CanvasEl extends El {
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: Iterable<number> };
  } | null;
}
/** What Chart.js's `Chart.getChart(canvas)` gives, as far as the probes read it. */
interface ChartLike {
  data: { labels: string[]; datasets: { data: number[] }[] };
  currentDevicePixelRatio: number;
  getDatasetMeta(i: number): {
    data: { getCenterPoint(): { x: number; y: number }; width: number; height: number }[];
  };
}
/** The page's globals. */
interface PageGlobal {
  pwned?: boolean;
  document: {
    scripts: ArrayLike<unknown>;
    images: ArrayLike<unknown>;
    querySelectorAll(selector: string): Iterable<El>;
  };
  Chart: { getChart(canvas: CanvasEl): ChartLike | undefined };
}

/** An amount as printed (`$1,234.5678`): its integer units and decimals. */
function amount(text: string | null): { units: number; decimals: number; usd: number } {
  const m = /(-?)\$([\d,]+)\.(\d+)/.exec(text ?? '');
  if (!m) throw new Error(`no dollar amount in ${JSON.stringify(text)}`);
  const [, sign, whole = '', frac = ''] = m;
  const units = Number(`${sign}${whole.replace(/,/g, '')}${frac}`);
  return { units, decimals: frac.length, usd: units / 10 ** frac.length };
}

const html = renderHtml(MODEL, { title: 'Fixture report' });

describe('renderHtml: the document', () => {
  it('inlines Chart.js 4.6.1 and lets only its own scripts run, with nothing to fetch', () => {
    expect(html).toContain('Chart.js v4.6.1');
    expect(html).not.toContain('sourceMappingURL');
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] ?? '');
    expect(scripts).toHaveLength(2);
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';
    expect(csp).toContain("default-src 'none'");
    const hashes = scripts.map(
      (s) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`,
    );
    expect(/script-src ([^;]+)/.exec(csp)?.[1]).toBe(hashes.join(' '));
    // Outside the scripts, no address at all.
    const markup = html.replace(/<script[^>]*>[\s\S]*?<\/script>/g, '');
    expect(markup).not.toMatch(/https?:|\/\/[a-z]/i);
  });

  it('escapes every string from the spans', () => {
    expect(html).not.toContain(HOSTILE_SPAN);
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;window.pwned=true&lt;/script&gt;plan');
    expect(html).toContain('globex&lt;img src=x onerror=&quot;window.pwned=true&quot;&gt;');
    // In the chart data block, `<` cannot close the element.
    const data = /<script type="application\/json" id="spanledger-data">([\s\S]*?)<\/script>/.exec(
      html,
    )?.[1];
    expect(data).toContain('\\u003cimg src=x');
    expect(JSON.parse(data ?? '').charts[1].labels).toContain(HOSTILE_TENANT);
  });

  it('rounds amounts so that they add up to the rounded total, moving no unit onto a zero', () => {
    // Each rounds up on its own (1 + 1), their sum is 1 unit.
    expect(apportion([0.00005, 0.00005], 4).reduce((a, u) => a + u, 0)).toBe(1);
    // Each rounds down to 0, their sum to 1 unit: it goes to a non-zero value.
    const units = apportion([0, 0.00004, 0.00004, 0.00004], 4);
    expect(units.reduce((a, u) => a + u, 0)).toBe(1);
    expect(units[0]).toBe(0);
    expect(apportion([0.2406, 0.1834, 0.000002], 6)).toEqual([240600, 183400, 2]);
  });
});

describe('renderHtml: the page in Chromium', () => {
  let browser: Browser | undefined;
  let page: Page;
  const requests: string[] = [];
  const messages: string[] = [];

  beforeAll(async () => {
    const executablePath = requiredChromium();
    if (!executablePath) return;
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, 'report.html');
    writeFileSync(file, html);
    const url = pathToFileURL(file).href;
    browser = await chromium.launch({ executablePath });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // Every request but the document itself is recorded and refused.
    await context.route('**/*', (route) => {
      if (route.request().url() === url) return route.continue();
      requests.push(route.request().url());
      return route.abort();
    });
    page = await context.newPage();
    page.on('console', (m) => messages.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => messages.push(`pageerror: ${e.message}`));
    await page.goto(url, { waitUntil: 'load' });
    await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('loads with zero requests and no console message', (ctx) => {
    if (!browser) return ctx.skip();
    expect(requests).toEqual([]);
    expect(messages).toEqual([]);
  });

  it('runs nothing from the spans and prints them as text', async (ctx) => {
    if (!browser) return ctx.skip();
    const seen = await page.evaluate(() => {
      const { pwned, document } = globalThis as unknown as PageGlobal;
      return {
        pwned,
        scripts: document.scripts.length,
        images: document.images.length,
        spanNames: [...document.querySelectorAll('table.waterfall td.span')].map((td) =>
          td.childNodes[0]?.textContent?.trim(),
        ),
        tenants: [...document.querySelectorAll('[data-table="breakdown-tenant"] tbody tr')].map(
          (tr) => tr.querySelector('td')?.textContent,
        ),
      };
    });
    expect(seen.pwned).toBeUndefined();
    expect(seen.scripts).toBe(3); // the data block, Chart.js and the page's script
    expect(seen.images).toBe(0);
    expect(seen.spanNames).toContain(HOSTILE_SPAN);
    expect(seen.tenants).toEqual(MODEL.breakdowns.tenant?.map((r) => r.key[0]));
  });

  it("draws every chart, from the model's figures", async (ctx) => {
    if (!browser) return ctx.skip();
    type Drawn = { id: string; labels: string[]; data: number[]; bars: number[][] };
    const charts: Drawn[] = await page.evaluate(() => {
      const { Chart, document } = globalThis as unknown as PageGlobal;
      const canvases = [...document.querySelectorAll('canvas')] as CanvasEl[];
      return canvases.map((canvas) => {
        const chart = Chart.getChart(canvas);
        const ctx2d = canvas.getContext('2d');
        if (!chart || !ctx2d) return { id: canvas.id, labels: [], data: [], bars: [] };
        const dpr = chart.currentDevicePixelRatio;
        // The pixel at the centre of every bar big enough to have one.
        const bars = chart
          .getDatasetMeta(0)
          .data.filter((bar) => Math.abs(bar.width) > 3 && Math.abs(bar.height) > 3)
          .map((bar) => {
            const p = bar.getCenterPoint();
            return [...ctx2d.getImageData(Math.round(p.x * dpr), Math.round(p.y * dpr), 1, 1).data];
          });
        return {
          id: canvas.id,
          labels: chart.data.labels,
          data: chart.data.datasets[0]?.data ?? [],
          bars,
        };
      });
    });
    const byId = new Map(charts.map((c) => [c.id, c]));
    const expected: Record<string, { labels?: string[]; data: number[] }> = {
      'chart-over-time': { data: MODEL.overTime.map((b) => b.costUsd) },
      'chart-cache-savings': {
        data: (MODEL.breakdowns.model ?? [])
          .filter((r) => r.cacheSavingsUsd > 0)
          .map((r) => r.cacheSavingsUsd),
      },
    };
    for (const key of ['tenant', 'use_case', 'model', 'category']) {
      const rows = MODEL.breakdowns[key] ?? [];
      expected[`chart-by-${key}`] = {
        labels: rows.map((r) => r.key.join(' / ')),
        data: rows.map((r) => r.costUsd),
      };
    }
    expect([...byId.keys()].sort()).toEqual(Object.keys(expected).sort());
    for (const [id, want] of Object.entries(expected)) {
      const chart = byId.get(id);
      expect(chart?.data, id).toEqual(want.data);
      if (want.labels) expect(chart?.labels, id).toEqual(want.labels);
      expect(chart?.labels, id).toHaveLength(want.data.length);
      // Drawn: at least one bar per chart, each painted in the bars' colour.
      expect(chart?.bars.length, id).toBeGreaterThan(0);
      for (const pixel of chart?.bars ?? []) expect(pixel, id).toEqual([...BAR_RGB, 255]);
    }
    expect(byId.get('chart-over-time')?.labels[0]).toBe('2025-06-02 09:00');
  });

  it("prints the model's totals", async (ctx) => {
    if (!browser) return ctx.skip();
    const printed = await page.$$eval('[data-total]', (els: El[]) =>
      els.map((el): [string, string] => [
        el.getAttribute('data-total') ?? '',
        el.textContent ?? '',
      ]),
    );
    const t = MODEL.totals;
    const money = ['costUsd', 'cacheSavingsUsd', 'failedCostUsd'] as const;
    const counts = ['spans', 'traces', 'pricedSpans', 'unpricedSpans', 'malformed'] as const;
    expect(new Set(printed.map(([k]) => k))).toEqual(new Set([...money, ...counts]));
    for (const [key, text] of printed) {
      if ((money as readonly string[]).includes(key)) {
        // To the cent, and in fact to the printed 4 decimals.
        const usd = amount(text).usd;
        expect(Math.abs(usd - t[key as (typeof money)[number]]), key).toBeLessThan(0.005);
        expect(usd, key).toBeCloseTo(t[key as (typeof money)[number]], 4);
      } else {
        expect(Number(text.replace(/,/g, '')), key).toBe(t[key as (typeof counts)[number]]);
      }
    }
    const note = await page.textContent('#summary');
    expect(note).toContain('partial: 2 unpriced spans not included');
  });

  it('prints rows that add up to the printed total in every cost table', async (ctx) => {
    if (!browser) return ctx.skip();
    const tables = await page.$$eval(
      'table[data-table^="breakdown-"], table[data-table="rows"]',
      (els: El[]) =>
        els.map((table) => {
          const cost = (tr: El): string =>
            [...tr.children].find((td) => td.hasAttribute('data-usd'))?.textContent ?? '';
          return {
            name: table.getAttribute('data-table') ?? '',
            rows: [...table.querySelectorAll('tbody tr')].map(cost),
            total: cost(table.querySelector('tfoot tr') as El),
          };
        }),
    );
    const summary = await page.textContent('#summary [data-total="costUsd"]');
    expect(tables.map((t) => t.name).sort()).toEqual([
      'breakdown-category',
      'breakdown-model',
      'breakdown-tenant',
      'breakdown-use_case',
      'rows',
    ]);
    for (const table of tables) {
      const total = amount(table.total);
      const rows = table.rows.filter((r) => r !== 'unpriced').map(amount);
      expect(
        rows.every((r) => r.decimals === total.decimals),
        table.name,
      ).toBe(true);
      expect(
        rows.reduce((a, r) => a + r.units, 0),
        table.name,
      ).toBe(total.units);
      // The printed total is the model's total rounded to the printed decimals (not the sum of
      // rows rounded one by one), the one the summary prints.
      expect(Math.abs(total.usd - MODEL.totals.costUsd), table.name).toBeLessThan(0.005);
      expect(total.usd, table.name).toBeCloseTo(MODEL.totals.costUsd, total.decimals);
      expect(total.units, table.name).toBe(amount(summary).units);
      expect(table.total, table.name).toContain('+ 2 unpriced');
    }
  });

  it('shows unpriced spans as unpriced, with their counts, never as $0', async (ctx) => {
    if (!browser) return ctx.skip();
    const unpriced = await page.$$eval('table[data-table="unpriced"] tr', (trs: El[]) =>
      trs.map((tr) => [...tr.children].map((td) => td.textContent ?? '')),
    );
    expect(unpriced).toEqual([
      ['Provider', 'Model', 'Reason', 'Spans'],
      ...MODEL.unpriced.map((u) => [u.provider, u.model, u.reason, String(u.spans)]),
      ['Total', String(MODEL.totals.unpricedSpans)],
    ]);
    // Rows of the `--by` table whose spans are all unpriced: their cost cell says so.
    const cells = await page.$$eval('table[data-table="rows"] tbody tr', (trs: El[]) =>
      trs.map((tr) => [tr.children[2]?.textContent, tr.children[3]?.textContent ?? '']),
    );
    const allUnpriced = MODEL.rows.filter((r) => r.spans === r.unpricedSpans);
    expect(allUnpriced.length).toBeGreaterThan(0);
    expect(cells.filter(([, cost]) => cost === 'unpriced').map(([m]) => m)).toEqual(
      allUnpriced.map((r) => r.key[2]),
    );
  });

  it("draws each top trace's cost waterfall: steps, depth, offsets, costs", async (ctx) => {
    if (!browser) return ctx.skip();
    const falls = await page.$$eval('table.waterfall', (tables: El[]) =>
      tables.map((table) => ({
        trace: table.getAttribute('data-trace'),
        rows: [...table.querySelectorAll('tbody tr')].map((tr) => ({
          span: tr.getAttribute('data-span'),
          depth: Number(tr.getAttribute('data-depth')),
          start: tr.children[1]?.textContent,
          cost: tr.children[4]?.textContent ?? '',
          bar: tr.querySelector('.costbar span')?.style.width,
        })),
        total: table.querySelector('tfoot td[data-usd]')?.textContent ?? '',
      })),
    );
    const traces = MODEL.topTraces.filter((t) => t.waterfall);
    expect(falls.map((f) => f.trace)).toEqual(traces.map((t) => t.traceId));
    for (const [i, trace] of traces.entries()) {
      const fall = falls[i];
      const spans = trace.waterfall ?? [];
      expect(fall?.rows.map((r) => [r.span, r.depth])).toEqual(
        spans.map((s) => [s.spanId, s.depth]),
      );
      const priced =
        fall?.rows.filter((r) => r.cost !== 'unpriced').map((r) => amount(r.cost)) ?? [];
      expect(priced.reduce((a, r) => a + r.units, 0)).toBe(amount(fall?.total ?? '').units);
      expect(amount(fall?.total ?? '').usd).toBeCloseTo(trace.costUsd, 6);
      for (const [j, s] of spans.entries()) {
        if (s.unpriced) expect(fall?.rows[j]?.cost).toBe('unpriced');
        else expect(amount(fall?.rows[j]?.cost ?? '').usd).toBeCloseTo(s.costUsd, 6);
      }
    }
    // The research trace: o3 started 4.2 s in and took 72.5 % of the priced cost.
    const o3 = falls[0]?.rows[2];
    expect(o3).toMatchObject({ span: 'b000000000000003', start: '+4.20 s', bar: '72.51%' });
  });

  it('lists the budget events', async (ctx) => {
    if (!browser) return ctx.skip();
    const rows = await page.$$eval('table[data-table="budget-events"] tbody tr', (trs: El[]) =>
      trs.map((tr) => [...tr.children].slice(1, 6).map((td) => td.textContent)),
    );
    expect(rows).toEqual(
      MODEL.budgetEvents.map((e) => [
        e.budget,
        e.kind,
        e.action,
        `$${e.spentUsd?.toFixed(4)}`,
        `$${e.limitUsd?.toFixed(4)}`,
      ]),
    );
  });
});

describe('renderHtml: bundled by tsup', () => {
  it('finds chart.js from the ESM and the CJS build', async () => {
    // As tsup.config.ts builds the package (CJS with import.meta.url shimmed), into a folder
    // inside the repository so that node_modules is found as from dist/.
    const out = join(ROOT, '.scratch', `html-bundle-${process.pid}`);
    try {
      await build({
        entry: { html: 'src/cli/report/html.ts' },
        format: ['esm', 'cjs'],
        outDir: out,
        target: 'node18',
        shims: true,
        config: false,
        silent: true,
      });
      const fixture = JSON.stringify(join(ROOT, 'test/fixtures/report/model.json'));
      const render = `(m) => m.renderHtml(JSON.parse(require('node:fs').readFileSync(${fixture}, 'utf8')), { title: 'Fixture report' }).length`;
      const esm = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); const m = await import(${JSON.stringify(pathToFileURL(join(out, 'html.js')).href)}); console.log((${render})(m));`,
        ],
        { encoding: 'utf8' },
      );
      const cjs = spawnSync(
        process.execPath,
        ['-e', `console.log((${render})(require(${JSON.stringify(join(out, 'html.cjs'))})))`],
        { encoding: 'utf8' },
      );
      for (const r of [esm, cjs]) {
        expect(r.stderr).toBe('');
        expect(Number(r.stdout.trim())).toBe(html.length);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
