// Use-case scorecard (for finance and each use case's business owner): per use case, cost,
// outcomes, cost per outcome and value against cost, set against the value hypothesis the use
// case was funded on (_config.useCases: target ROI, baseline cost per outcome, review date, kill
// criterion), on the total cost of ownership: the measured usage cost plus the fixed monthly
// costs configured per use case (platform, integration, governance, human review), which tokens
// do not show. docs/dashboards.md says what each panel answers.
local lib = import '../lib/lib.libsonnet';
local rp = import '../rules/promql.libsonnet';
local useCases = import 'use-cases.libsonnet';

function(config)
  local l = config.labels;
  local p = lib.promql;
  local t = lib.target;
  local panel = lib.panel;
  local u = lib.units;
  local n = rp.num;
  // Fixed costs are per use case, not per team or tenant: the scorecard filters by use case only,
  // so that its total cost of ownership is never a filtered usage plus the whole fixed cost.
  local filters = ['useCase'];
  local cost = 'spanledger_cost_usd_total';
  local value = 'spanledger_outcome_value_usd_total';
  local usage = useCases.byUseCase(config, cost, filters);
  local outcomes = useCases.outcomes(config, filters);
  local worth = useCases.byUseCase(config, value, filters);
  // Fixed costs pro-rated to the selected range: monthly USD x $__range_s / _config.monthSeconds.
  local fixed = useCases.fixedRange(config);
  local tco = useCases.plus(usage, fixed);
  local hyp(f) = useCases.perUseCase(config, f);
  local targetRoi = hyp(function(uc) if std.objectHas(uc, 'targetRoi') then n(uc.targetRoi) else null);
  local killRoi = hyp(function(uc) if std.objectHas(uc, 'targetRoi') && std.objectHas(uc, 'killRatio') then n(uc.killRatio * uc.targetRoi) else null);
  local baseline = hyp(function(uc) if std.objectHas(uc, 'baselineUsdPerOutcome') then n(uc.baselineUsdPerOutcome) else null);
  local reviewDays = hyp(function(uc) if std.objectHas(uc, 'reviewDate') then '(' + useCases.unixDate(uc.reviewDate) + ' - time()) / 86400' else null);
  local sum(expr) = 'sum(' + expr + ')';
  local configured = std.objectFields(config.useCases);

  // The table's columns: [column, expression, unit or null (USD)]; hypothesis columns only when a
  // use case configures them.
  local columns = std.filter(function(c) c[1] != '', [
    ['Usage cost', usage, null],
    ['Fixed costs', fixed, null],
    ['Total cost', tco, null],
    ['Usage share', if fixed == '' then '' else '(' + usage + ') / (' + tco + ')', u.ratio],
    ['Outcomes', outcomes, u.count],
    ['Cost per outcome', '(' + tco + ') / (' + outcomes + ')', null],
    ['Baseline per outcome', baseline, null],
    ['Value', worth, null],
    ['ROI', '(' + worth + ') / (' + tco + ')', u.count],
    ['Target ROI', targetRoi, u.count],
    ['Kill below ROI', killRoi, u.count],
    ['Days to review', reviewDays, u.count],
  ]);
  local refs = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

  // The value hypotheses as configured, one table row per use case (markdown).
  local money(x) = if x == null then '' else n(x) + ' USD';
  local hypotheses =
    if configured == [] then
      'No use case is configured in `_config.useCases`: the figures are the measured usage cost, outcomes and value per use case, without fixed costs or a value hypothesis. docs/dashboards.md shows how to add one.'
    else
      'Fixed monthly costs are pro-rated to the selected range per second of a month of ' + n(config.monthSeconds) + ' s (_config.monthSeconds).\n\n'
      + '| Use case | Outcome | Target ROI | Kill criterion | Baseline per outcome | Review | Fixed monthly costs |\n|---|---|---|---|---|---|---|\n'
      + std.join('', [
        local uc = config.useCases[name];
        local f = std.get(uc, 'fixedMonthlyUsd', {});
        '| %s | %s | %s | %s | %s | %s | %s |\n' % [
          name,
          std.get(uc, 'outcome', 'every outcome'),
          if std.objectHas(uc, 'targetRoi') then n(uc.targetRoi) else '',
          if std.objectHas(uc, 'killRatio') then 'ROI under ' + n(uc.killRatio) + ' x target for ' + std.get(uc, 'killPeriod', '?') else '',
          money(std.get(uc, 'baselineUsdPerOutcome', null)),
          std.get(uc, 'reviewDate', ''),
          std.join(', ', [k + ' ' + money(f[k]) for k in std.objectFields(f)]) + (if f == {} then '' else ' (' + money(useCases.fixedMonthly(uc)) + ')'),
        ]
        for name in configured
      ]);

  local fixedPerSecond = useCases.fixedPerSecond(config);
  local rate(metric) = p.sumBy([l.useCase], p.rate(metric, config, filters, l.useCase + '!=""'));
  local costRate = useCases.plus(rate(cost), fixedPerSecond);

  lib.dashboard.new(
    config,
    'scorecard',
    'Use-case scorecard',
    'Per use case: cost (usage and fixed costs), outcomes, cost per outcome and return on cost, against the value hypothesis it was funded on.',
    filters=filters,
  )
  + lib.dashboard.withPanels([
    panel.row('Over the selected range'),
    panel.stat('Usage cost', [t.prom(sum(usage), instant=true)], u.usd, 'Measured spend of the use cases (series with a use case) over the range.', w=4),
    panel.stat('Fixed costs', [t.prom(if fixed == '' then 'vector(0)' else sum(fixed), instant=true)], u.usd, 'Fixed monthly costs of the configured use cases (_config.useCases) pro-rated to the range.', w=4),
    panel.stat('Total cost of ownership', [t.prom(sum(tco), instant=true)], u.usd, 'Usage cost plus fixed costs.', w=4),
    panel.stat('Outcomes', [t.prom(sum(outcomes), instant=true)], u.count, 'Outcomes the use cases counted (each its configured outcome).', w=4, decimals=0),
    panel.stat('Value', [t.prom(sum(worth), instant=true)], u.usd, 'Business value of the outcomes (spanledger_outcome_value_usd_total).', w=4),
    panel.stat('ROI', [t.prom(sum(worth) + ' / ' + sum(tco), instant=true)], u.count, 'Value / total cost of ownership: USD of value per USD spent.', w=4, decimals=2),

    panel.table(
      'Scorecard',
      [t.prom(c[1], instant=true, format='table') { refId: refs[i] } for i in std.range(0, std.length(columns) - 1) for c in [columns[i]]],
      u.usd,
      'One row per use case over the selected range. Total cost: usage plus fixed monthly costs pro-rated to the range. Cost per outcome and ROI are on the total cost. Target ROI, kill criterion (killRatio x targetRoi), baseline per outcome and review date are the value hypothesis of _config.useCases.',
      h=9,
      columns={ [l.useCase]: 'Use case' } + { ['Value #' + refs[i]]: columns[i][0] for i in std.range(0, std.length(columns) - 1) },
      columnUnits={ [c[0]]: c[2] for c in columns if c[2] != null },
      sortBy='Total cost',
    ),
    panel.text('Value hypotheses', hypotheses, h=4 + std.length(configured)),

    panel.row('Over time'),
    panel.timeseries(
      'ROI by use case (value / total cost)',
      [t.prom('(' + rate(value) + ') / (' + costRate + ')', '{{' + l.useCase + '}}')]
      + (if targetRoi == '' then [] else [t.prom(targetRoi, 'target {{' + l.useCase + '}}')])
      + (if killRoi == '' then [] else [t.prom(killRoi, 'kill below {{' + l.useCase + '}}')]),
      u.count,
      'Value rate / cost rate (usage plus fixed costs per second), with the target ROI and the kill criterion of each configured use case. The kill alert averages this over _config.useCaseRatioWindow.',
    ),
    panel.timeseries(
      'Total cost rate by use case (USD/h)',
      [t.prom('(' + costRate + ') * 3600', '{{' + l.useCase + '}}')],
      u.usd,
      'Usage spend per hour plus fixed costs per hour.',
      stack=true,
    ),
    panel.timeseries(
      'Cost per outcome by use case',
      [t.prom('(' + costRate + ') / (' + rate('spanledger_outcomes_total') + ')', '{{' + l.useCase + '}}')]
      + (if baseline == '' then [] else [t.prom(baseline, 'baseline {{' + l.useCase + '}}')]),
      u.usd,
      'Total cost rate / outcome rate (every outcome of the use case), against the baseline cost per outcome before the agent.',
    ),
    panel.timeseries(
      'Value rate by use case (USD/h)',
      [t.prom('(' + rate(value) + ') * 3600', '{{' + l.useCase + '}}')],
      u.usd,
      'Business value of the outcomes per hour.',
      stack=true,
    ),
  ])
