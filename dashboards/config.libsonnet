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
      // The budget metrics' own attributes (src/metrics/budget-metrics.ts): budget, window
      // (`day@UTC`, `month@Europe/Paris`, `rolling:3600000ms`), and kind and action on events.
      budget: 'budget',
      window: 'window',
      // The outcome counters' name (spanledger.outcome.name) and the routing counterfactuals'
      // alternative (spanledger.alternative.model), read by the finance dashboards.
      outcome: 'spanledger_outcome_name',
      alternative: 'spanledger_alternative_model',
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

    // Showback and scorecard. A use case's fixed monthly costs (useCases below) are pro-rated
    // over the selected range per second of a month this long: 365.25 / 12 days, the month the
    // use-case kill alert divides them by, so the scorecard's ROI and the alert's agree.
    monthSeconds: 2629800,
    // Showback: the top models panel ranks this many models by spend.
    showbackTopModels: 10,

    // Alerts.
    // Runbook links: this base plus the alert name in lower case (docs/alerts.md has one section
    // per alert).
    alertRunbookUrlBase: 'https://github.com/spanledger/spanledger/blob/main/docs/alerts.md#',
    // Severity label of the alerts whose severity has no knob of its own (the burn rates carry theirs).
    alertSeverity: {
      budgetExceeded: 'critical',
      budgetExceededEvents: 'warning',
      spendAnomaly: 'warning',
      runawayTrace: 'warning',
      unpricedUsage: 'warning',
      approximatePricing: 'info',
      costTelemetryAbsent: 'warning',
      useCaseKill: 'info',
    },
    // Budget burn rate: fire when the spend rate over both windows would exhaust the budget's
    // window this many times faster than even spending (multi-window, multi-burn-rate).
    budgetBurnRateFast: { factor: 14.4, long: '1h', short: '5m', severity: 'critical' },
    budgetBurnRateSlow: { factor: 6, long: '6h', short: '30m', severity: 'warning' },
    // Spend anomaly: the last hour's spend against the same hour a week before.
    spendAnomalyFactor: 3,
    spendAnomalyMinUsdPerHour: 1,
    // Budget exceeded events (per-run budgets have no spend gauge): counted over this window.
    budgetEventsWindow: '10m',
    // Runaway trace: a run costing more than this, counted over runawayTraceWindow. It must be a
    // bucket bound of the run-cost histogram spanledger.trace.cost.usd: 0.001, 0.01, 0.05, 0.1,
    // 0.25, 0.5, 1, 2.5, 5, 10, 25 or 100 (rendering fails on any other value).
    runawayTraceUsd: 5,
    runawayTraceWindow: '10m',
    // Unpriced or approximately priced usage: share of LLM operations over this window.
    unpricedRatio: 0.01,
    unpricedFor: '15m',
    // No cost telemetry for absentFor from a job that reported it within absentLookback.
    absentFor: '30m',
    absentLookback: '1d',

    // Use-case kill criterion: value / cost (fixed monthly costs included) averaged over this
    // window, under killRatio x targetRoi for the use case's whole killPeriod (docs/alerts.md).
    useCaseRatioWindow: '7d',

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
