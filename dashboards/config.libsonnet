// Every knob of the spanledger mixin (docs/dashboards.md has the table). Override it when you
// compose the mixin: (import 'spanledger/mixin.libsonnet') + { _config+:: { selector: 'cluster="prod"' } }.
{
  _config+:: {
    // Matcher fragment added to every spanledger series selector, e.g. 'cluster="prod"'. Empty
    // selects every emitter that writes the metric names (never filter on one SDK's name).
    selector: '',

    // Prometheus label names of the dimensions, as the collector translates the span attributes
    // (spanledger.team becomes spanledger_team; service.name becomes job).
    labels: {
      service: 'job',
      team: 'spanledger_team',
      costCenter: 'spanledger_cost_center',
      tenant: 'spanledger_tenant',
      useCase: 'spanledger_use_case',
      agent: 'gen_ai_agent_name',
      category: 'spanledger_cost_category',
      provider: 'gen_ai_provider_name',
      model: 'gen_ai_request_model',
      tokenType: 'gen_ai_token_type',
      // The budget metrics label by the budget's name and window (src/metrics/budget-metrics.ts).
      budget: 'budget',
      window: 'window',
    },

    // Dashboards.
    dashboardTags: ['spanledger'],
    dashboardTitlePrefix: 'spanledger / ',
    // Stable uids: Grafana links and bookmarks keep working across re-imports.
    uidPrefix: 'spanledger-',
    refresh: '1m',
    defaultFrom: 'now-24h',
    // Finance reads calendar days and months in this time zone ('utc' or an IANA name).
    timezone: 'utc',
    // The value a dashboard filter takes for "no value": spans without a team are shown as this.
    unallocatedLabel: 'unallocated',
    // Agent cost per trace: the Tempo table lists runs costing more than this (USD).
    expensiveTraceUsd: 1,
    // Budgets: the spend rate (and time to exhaustion) is the slope of the spent gauge over this.
    budgetBurnWindow: '1h',

    // Alerts.
    alertRunbookUrlBase: 'https://github.com/spanledger/spanledger/blob/main/docs/dashboards.md#',
    // Budget burn rate: fire when the spend rate over both windows would exhaust the budget's
    // window this many times faster than even spending (multi-window, multi-burn-rate).
    budgetBurnRateFast: { factor: 14.4, long: '1h', short: '5m', severity: 'critical' },
    budgetBurnRateSlow: { factor: 6, long: '6h', short: '30m', severity: 'warning' },
    // Spend anomaly: the last hour's spend against the same hour a week before.
    spendAnomalyFactor: 3,
    spendAnomalyMinUsdPerHour: 1,
    // Runaway trace: a run costing more than this (a bucket bound of spanledger.trace.cost.usd).
    runawayTraceUsd: 5,
    // Unpriced or approximately priced usage: share of LLM operations over this window.
    unpricedRatio: 0.01,
    unpricedFor: '15m',
    // No cost telemetry from a job that reported it in the last day.
    absentFor: '30m',

    // Use cases (scorecard and total cost of ownership). Per use case: the value hypothesis it was
    // funded on and the fixed monthly costs that tokens do not show.
    useCases: {
      // 'support-triage': {
      //   outcome: 'ticket_resolved',
      //   targetRoi: 3,              // value / cost the use case was funded on
      //   baselineUsdPerOutcome: 4,  // what one outcome cost before the agent
      //   reviewDate: '2027-03-31',
      //   killRatio: 0.6,            // kill criterion: under 60 % of the hypothesis ...
      //   killPeriod: '30d',         // ... for this long
      //   fixedMonthlyUsd: { platform: 500, integration: 300, governance: 200, humanReview: 2000 },
      // },
    },
  },
}
