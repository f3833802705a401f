// Recording rules of the spanledger mixin (docs/alerts.md, "Recording rules"): the aggregations
// the dashboards and alerts read often, named level:metric:operations. Every rule keeps an
// explicit label set: `by (...)`, never `without`, so an emitter's extra labels (instance,
// extra dimensions) cannot multiply the recorded series.
local p = import 'promql.libsonnet';

{
  prometheusRules+:: {
    local c = $._config,
    local l = c.labels,
    local sel = function(m=[]) p.sel(c, m),
    local budget = p.budgetLabels(c),
    local bl = p.by(budget),
    local costLabels = [l.service, l.team, l.costCenter, l.tenant, l.useCase, l.agent, l.category, l.provider, l.model],

    groups+: [
      {
        name: 'spanledger-cost',
        rules: [
          {
            // Spend rate (USD per second) by the full attribution breakdown.
            record: 'spanledger:cost_usd:rate5m',
            expr: 'sum %s (rate(spanledger_cost_usd_total%s[5m]))' % [p.by(costLabels), sel()],
          },
          {
            // Spend of the last hour per job (the spend-anomaly alert compares it to a week before).
            record: 'spanledger_job:cost_usd:increase1h',
            expr: 'sum %s (increase(spanledger_cost_usd_total%s[1h]))' % [p.by([l.service]), sel()],
          },
          {
            // Cost series per job: present while the job reports cost telemetry (the absence alert
            // looks back over it).
            record: 'spanledger_job:cost_usd_series:count',
            expr: 'count %s (spanledger_cost_usd_total%s)' % [p.by([l.service]), sel()],
          },
          {
            // LLM operations per second per job, all and by pricing status (unpriced share).
            record: 'spanledger_job:llm_operations:rate%s' % c.unpricedFor,
            expr: 'sum %s (rate(spanledger_operations_total%s[%s]))' % [p.by([l.service]), sel([l.category + '="llm"']), c.unpricedFor],
          },
          {
            record: 'spanledger_job:llm_operations_unpriced:rate%s' % c.unpricedFor,
            expr: 'sum %s (rate(spanledger_operations_total%s[%s]))' % [p.by([l.service]), sel([l.category + '="llm"', 'spanledger_cost_status="unpriced"']), c.unpricedFor],
          },
          {
            record: 'spanledger_job:llm_operations_approximate:rate%s' % c.unpricedFor,
            expr: 'sum %s (rate(spanledger_pricing_approximate_total%s[%s]))' % [p.by([l.service]), sel(), c.unpricedFor],
          },
        ],
      },
      {
        name: 'spanledger-use-cases',
        rules: [
          {
            // Cost, outcome value and outcomes per use case, across jobs (a use case may span
            // services).
            record: 'spanledger_use_case:cost_usd:rate5m',
            expr: 'sum %s (rate(spanledger_cost_usd_total%s[5m]))' % [p.by([l.useCase]), sel([l.useCase + '!=""'])],
          },
          {
            record: 'spanledger_use_case:outcome_value_usd:rate5m',
            expr: 'sum %s (rate(spanledger_outcome_value_usd_total%s[5m]))' % [p.by([l.useCase]), sel([l.useCase + '!=""'])],
          },
          {
            record: 'spanledger_use_case:outcomes:rate5m',
            expr: 'sum %s (rate(spanledger_outcomes_total%s[5m]))' % [p.by([l.useCase, 'spanledger_outcome_name']), sel([l.useCase + '!=""'])],
          },
        ],
      },
      {
        name: 'spanledger-budgets',
        rules: [
          {
            // Share of each budget window's limit still unspent (negative once over).
            record: 'spanledger_budget:remaining:ratio',
            expr: '1 - max %s (spanledger_budget_spent_usd%s) / max %s (spanledger_budget_limit_usd%s)' % [bl, sel(), bl, sel()],
          },
          {
            // Even spending: the limit spread over the calendar window's length, USD per second.
            record: 'spanledger_budget:even_spend_usd:rate',
            expr: std.join('\nor\n', [
              'max %s (spanledger_budget_limit_usd%s) / %s' % [bl, sel([l.window + '=~"' + w.period + '@.*"']), w.seconds]
              for w in p.calendarWindows
            ]),
          },
        ] + std.flattenArrays([
          [
            {
              // Spend rate of each calendar window (the gauge restarts at each window: rate
              // counts the restart as a counter reset), USD per second.
              record: 'spanledger_budget:spent_usd:rate%s' % r,
              expr: 'max %s (rate(spanledger_budget_spent_usd%s[%s]))' % [bl, sel([p.calendarWindowMatcher(c)]), r],
            },
            {
              // Burn rate: that spend rate in units of even spending (1 spends the limit exactly
              // over the window).
              record: 'spanledger_budget:spent_usd:burn_rate%s' % r,
              expr: 'spanledger_budget:spent_usd:rate%s / spanledger_budget:even_spend_usd:rate' % r,
            },
          ]
          for r in p.burnRanges(c)
        ]),
      },
    ],
  },
}
