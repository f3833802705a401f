/**
 * Reports one file in a process of its own and prints what it took: wall time, peak RSS and
 * the totals (for test/cli/report/perf.test.ts and the figures in docs/performance.md).
 * `node --import tsx test/cli/report/perf-child.ts FILE [TOP]`
 */
import { buildReport } from '../../../src/cli/report/aggregate.js';
import { newReadStats, readSpans } from '../../../src/cli/report/read.js';
import { renderTables } from '../../../src/cli/report/tables.js';

const [file, top = '10'] = process.argv.slice(2) as [string, string?];
const rssBefore = process.resourceUsage().maxRSS;
const started = performance.now();
const stats = newReadStats();
/** Top traces read again in a second pass (0: the first pass held them all). */
let secondPass = 0;
const model = await buildReport(readSpans([file], stats), {
  by: ['tenant', 'use_case', 'model'],
  top: Number(top),
  readStats: stats,
  reread: (traceIds) => {
    secondPass = traceIds.size;
    return readSpans([file], newReadStats(), { traceIds });
  },
});
renderTables(model);
const ms = performance.now() - started;
console.log(
  JSON.stringify({
    ms,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    rssBeforeMiB: rssBefore / 1024,
    totals: model.totals,
    rows: model.rows.length,
    secondPass,
    // Top traces whose waterfall has every one of their spans.
    waterfalls: model.topTraces.filter((t) => t.waterfall?.length === t.spans).length,
  }),
);
