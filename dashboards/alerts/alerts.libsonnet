// Alerts of the spanledger mixin. Each has a `severity` label and `summary`, `description` and
// `runbook_url` annotations; docs/alerts.md has the runbook section of each (what it means, how
// to check, what to do). They read the recording rules of rules/rules.libsonnet.
local p = import '../rules/promql.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    local l = c.labels,
    local sel = function(m=[]) p.sel(c, m),
    local sev = c.alertSeverity,
    local budget = p.budgetLabels(c),
    local v = function(label) '{{ $labels.%s }}' % label,
    local n = p.num,

    // One alerting rule: the runbook link is the base plus the name in lower case (the anchor of
    // its docs/alerts.md heading).
    local alert(name, expr, severity, summary, description, forDuration='') =
      {
        alert: name,
        expr: expr,
        labels: { severity: severity },
        annotations: {
          summary: summary,
          description: description,
          runbook_url: c.alertRunbookUrlBase + std.asciiLower(name),
        },
      } + (if forDuration == '' then {} else { 'for': forDuration }),

    // A counter's increase over `range`, counting a series born inside the range in full: the
    // budget events and run-cost series appear at their first event, which increase() alone
    // never sees.
    local increaseWithNew(series, range) = (import '../lib/promql.libsonnet').increaseOver(series, range),

    local burn(name, b) = alert(
      name,
      'spanledger_budget:spent_usd:burn_rate%s > %s\nand\nspanledger_budget:spent_usd:burn_rate%s > %s' % [b.long, n(b.factor), b.short, n(b.factor)],
      b.severity,
      'A budget is burning %s times faster than even spending.' % n(b.factor),
      'Budget %s (window %s) of %s spent at {{ $value | humanize }} times its even rate over the last %s (and over %s above %s times): at this pace it runs out before its window ends.' % [v(l.budget), v(l.window), v(l.service), b.long, b.short, n(b.factor)],
      if b.severity == 'critical' then '2m' else '15m',
    ),

    local budgetOver(labels) =
      'max %s (spanledger_budget_spent_usd%s) / max %s (spanledger_budget_limit_usd%s) >= 1' % [p.by(labels), sel(), p.by(labels), sel()],

    local bounds = p.traceCostBuckets,
    assert std.member(bounds, c.runawayTraceUsd) :
           '_config.runawayTraceUsd must be a bucket bound of spanledger.trace.cost.usd (%s), got %s' % [std.join(', ', [n(b) for b in bounds]), n(c.runawayTraceUsd)],
    local runLabels = [l.service, l.team, l.useCase, l.agent],
    local runs(series) = 'sum %s (%s)' % [p.by(runLabels), increaseWithNew(series, c.runawayTraceWindow)],

    local useCaseNames = std.objectFields(c.useCases),
    // A use case's fixed monthly costs as a PromQL sum (PromQL adds them: no float printed here).
    local fixedMonthly(u) = [n(x) for x in std.objectValues(std.get(u, 'fixedMonthlyUsd', {}))],
    local useCaseKill(name) =
      local u = c.useCases[name];
      local m = sel([l.useCase + '=' + std.escapeStringJson(name)]);
      local fixed = fixedMonthly(u);
      alert(
        'SpanledgerUseCaseKillCriterion',
        |||
          (
            avg_over_time(spanledger_use_case:outcome_value_usd:rate5m%(m)s[%(w)s])
            or
            avg_over_time(spanledger_use_case:cost_usd:rate5m%(m)s[%(w)s]) * 0
          )
          /
          (avg_over_time(spanledger_use_case:cost_usd:rate5m%(m)s[%(w)s])%(fixed)s)
          < %(ratio)s * %(roi)s
        ||| % {
          m: m,
          w: c.useCaseRatioWindow,
          // USD per second: a month of 365.25 / 12 days.
          fixed: if fixed == [] then '' else ' + (%s) / 2629800' % std.join(' + ', fixed),
          ratio: n(u.killRatio),
          roi: n(u.targetRoi),
        },
        sev.useCaseKill,
        'Use case %s has stayed under its kill criterion for %s.' % [name, u.killPeriod],
        'Use case %s returned {{ $value | humanize }} USD of value per USD of cost (tokens%s) over the last %s, under %s x its target ROI of %s, for %s: its review (%s) should decide whether it continues.' % [
          name,
          if fixed == [] then '' else ' and fixed costs',
          c.useCaseRatioWindow,
          n(u.killRatio),
          n(u.targetRoi),
          u.killPeriod,
          std.get(u, 'reviewDate', 'no date set'),
        ],
        u.killPeriod,
      ),

    groups+: [
      {
        name: 'spanledger-budget-alerts',
        rules: [
          burn('SpanledgerBudgetBurnRateFast', c.budgetBurnRateFast),
          burn('SpanledgerBudgetBurnRateSlow', c.budgetBurnRateSlow),
          alert(
            'SpanledgerBudgetExceeded',
            budgetOver(budget),
            sev.budgetExceeded,
            'A budget window has spent its limit.',
            'Budget %s (window %s) of %s has spent {{ $value | humanizePercentage }} of its limit.' % [v(l.budget), v(l.window), v(l.service)],
          ),
          alert(
            'SpanledgerBudgetExceededEvents',
            |||
              sum %(by)s (%(events)s) > 0
              unless on (%(on)s)
              %(over)s
            ||| % {
              by: p.by([l.service, l.budget, 'action']),
              events: increaseWithNew('spanledger_budget_events_total%s' % sel(['kind="exceeded"']), c.budgetEventsWindow),
              on: std.join(', ', [l.service, l.budget]),
              over: budgetOver([l.service, l.budget, l.window]),
            },
            sev.budgetExceededEvents,
            'A budget was exceeded.',
            'Budget %s of %s was exceeded in the last %s (action %s): runs or windows went over their limit.' % [v(l.budget), v(l.service), c.budgetEventsWindow, v('action')],
          ),
        ],
      },
      {
        name: 'spanledger-spend-alerts',
        rules: [
          alert(
            'SpanledgerSpendAnomaly',
            |||
              spanledger_job:cost_usd:increase1h
              > %(factor)s * sum %(by)s (increase(spanledger_cost_usd_total%(sel)s[1h] offset 1w))
              and
              spanledger_job:cost_usd:increase1h >= %(min)s
            ||| % { factor: n(c.spendAnomalyFactor), by: p.by([l.service]), sel: sel(), min: n(c.spendAnomalyMinUsdPerHour) },
            sev.spendAnomaly,
            'Spend is far above the same hour last week.',
            '%s spent {{ $value | printf "%%.2f" }} USD in the last hour, over %s times the same hour a week ago.' % [v(l.service), n(c.spendAnomalyFactor)],
            '15m',
          ),
          alert(
            'SpanledgerRunawayTrace',
            '%s\n-\n%s\n> 0' % [
              runs('spanledger_trace_cost_usd_count%s' % sel()),
              runs('spanledger_trace_cost_usd_bucket%s' % sel([p.leMatcher(c.runawayTraceUsd)])),
            ],
            sev.runawayTrace,
            'Runs cost more than %s USD each.' % n(c.runawayTraceUsd),
            'Runs of %s (team %s, use case %s, agent %s) cost more than %s USD each in the last %s.' % [v(l.service), v(l.team), v(l.useCase), v(l.agent), n(c.runawayTraceUsd), c.runawayTraceWindow],
          ),
        ],
      },
      {
        name: 'spanledger-pricing-alerts',
        rules: [
          alert(
            'SpanledgerUnpricedUsage',
            'spanledger_job:llm_operations_unpriced:rate%s / spanledger_job:llm_operations:rate%s > %s' % [c.unpricedFor, c.unpricedFor, n(c.unpricedRatio)],
            sev.unpricedUsage,
            'LLM calls have no price: their cost is missing.',
            '{{ $value | humanizePercentage }} of the LLM operations of %s had no price over the last %s.' % [v(l.service), c.unpricedFor],
            '5m',
          ),
          alert(
            'SpanledgerApproximatePricing',
            'spanledger_job:llm_operations_approximate:rate%s / spanledger_job:llm_operations:rate%s > %s' % [c.unpricedFor, c.unpricedFor, n(c.unpricedRatio)],
            sev.approximatePricing,
            'LLM calls are priced from an approximate model match.',
            '{{ $value | humanizePercentage }} of the LLM operations of %s were priced from a catalog entry matched by prefix or substring over the last %s.' % [v(l.service), c.unpricedFor],
            '5m',
          ),
          alert(
            'SpanledgerCostTelemetryAbsent',
            |||
              group %(by)s (max_over_time(spanledger_job:cost_usd_series:count[%(lookback)s]))
              unless
              group %(by)s (max_over_time(spanledger_job:cost_usd_series:count[%(for)s]))
            ||| % { by: p.by([l.service]), lookback: c.absentLookback, 'for': c.absentFor },
            sev.costTelemetryAbsent,
            'A job stopped reporting cost telemetry.',
            '%s reported cost metrics within the last %s but none for %s.' % [v(l.service), c.absentLookback, c.absentFor],
          ),
        ],
      },
    ] + (
      if useCaseNames == [] then []
      else [{ name: 'spanledger-use-case-alerts', rules: [useCaseKill(n) for n in useCaseNames] }]
    ),
  },
}
