// PromQL building blocks shared by the recording rules and the alerts (docs/alerts.md). Every
// function takes the mixin's _config, so a composed override reaches every expression.
local lib = import '../lib/promql.libsonnet';

{
  // A series selector body: the given matchers plus _config.selector, e.g.
  // sel(c, ['spanledger_cost_category="llm"']) -> '{cluster="prod",spanledger_cost_category="llm"}'.
  // The matchers themselves are built by the dashboards' lib (one home for selectors).
  sel(c, matchers=[])::
    local body = lib.matchers(c, [], matchers);
    if body == '' then '' else '{' + body + '}',

  // A number as PromQL and annotations should read it: 15 significant digits, so a knob of 0.6
  // is written 0.6 (jsonnet's own 17 digits would write 0.59999999999999998).
  num(x):: std.format('%.15g', x),

  // 'by (a, b)' from label names.
  by(labels):: 'by (' + std.join(', ', labels) + ')',

  // The budget series' labels: one series per job, budget and window (the gauges are per
  // process; max takes the freshest view of a shared ledger, or the most spent process of
  // per-process ledgers, whose limits apply per process).
  budgetLabels(c):: [c.labels.service, c.labels.budget, c.labels.window],

  // Calendar windows and what divides a limit by their length in seconds. The window label is `<period>@<time zone>`
  // (src/budgets/signals.ts windowLabel); a month is as long as the current month (UTC), a
  // quarter and a year their average (365.25 / 4 and 365.25 days). Rolling windows
  // (`rolling:<ms>ms`) have no burn rate: their spend gauge also falls as buckets expire.
  calendarWindows:: [
    { period: 'day', seconds: '86400' },
    { period: 'week', seconds: '604800' },
    { period: 'month', seconds: 'on () group_left () (days_in_month() * 86400)' },
    { period: 'quarter', seconds: '7889400' },
    { period: 'year', seconds: '31557600' },
  ],
  calendarWindowMatcher(c):: c.labels.window + '=~"(' + std.join('|', [w.period for w in self.calendarWindows]) + ')@.*"',

  // The Prometheus duration strings the burn-rate alerts need, without repeats, in order.
  burnRanges(c):: std.foldl(
    function(acc, r) if std.member(acc, r) then acc else acc + [r],
    [c.budgetBurnRateFast.long, c.budgetBurnRateFast.short, c.budgetBurnRateSlow.long, c.budgetBurnRateSlow.short],
    [],
  ),

  // The bucket bounds of spanledger.trace.cost.usd (src/metrics/cost-metrics.ts).
  traceCostBuckets:: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 100],

  // An `le` matcher for a bucket bound. Prometheus 3 stores scraped integer bounds as "5.0",
  // other paths may keep "5": both match.
  leMatcher(bound)::
    local s = self.num(bound);
    'le=~"' + (if std.length(std.findSubstr('.', s)) == 0 then s + '|' + s + '\\\\.0' else std.strReplace(s, '.', '\\\\.')) + '"',
}
