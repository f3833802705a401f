// AI spend showback (for finance): this month's spend per tenant, its projection and the
// unallocated share first, then the spend over the selected range by tenant, team, cost center,
// use case, model and category (each with its unallocated row), daily spend, cost per outcome
// and value per use case, top models, and what the configured routing alternatives would have
// saved. docs/dashboards.md says what each panel answers.
local lib = import '../lib/lib.libsonnet';
local useCases = import 'use-cases.libsonnet';

function(config)
  local l = config.labels;
  local p = lib.promql;
  local t = lib.target;
  local panel = lib.panel;
  local u = lib.units;
  local dims = ['service', 'team', 'costCenter', 'tenant', 'useCase', 'model'];
  // The outcome counters carry the dimensions but no model.
  local outcomeDims = ['service', 'team', 'costCenter', 'tenant', 'useCase'];
  local cost = 'spanledger_cost_usd_total';
  local total = p.sumBy([], p.increaseRange(cost, config, dims));

  // Spend over the range by one dimension's label, plus one row for the spend without it (the
  // label absent or empty: label="" matches both), named _config.unallocatedLabel. The
  // unallocated row is always there, at 0 when every dollar is allocated.
  local allocated(label, window='$__range') =
    local inc(extra) = p.increaseOver(p.selector(cost, config, dims, extra), window);
    p.sumBy([label], inc(label + '!=""'))
    + ' or label_replace(' + p.sumBy([], inc(label + '=""')) + (if window == '$__range' then ' or vector(0)' else '')
    + ', ' + std.escapeStringJson(label) + ', ' + std.escapeStringJson(config.unallocatedLabel) + ', "", "")';
  local share(expr) = '(' + expr + ') / scalar(' + total + ')';
  // 0 (not an empty panel) when every dollar is allocated.
  local unallocatedShare(label) =
    '(' + p.sumBy([], p.increaseRange(cost, config, dims, label + '=""')) + ' or vector(0)) / ' + total;

  // Month to date: the panel's relative time now/M ("this month so far") makes $__range the
  // time since the start of the month in the dashboard's time zone (_config.timezone), so
  // increase(...[$__range]) is the month's spend so far. A PromQL window cannot start at a
  // calendar boundary, and the date functions of PromQL know UTC only.
  local monthToDate(pnl) = pnl { timeFrom: 'now/M', hideTimeOverride: false };
  // Projected month end: month to date / the elapsed fraction of the month ($__range_s of the
  // month's days_in_month() x 86400 s). The month's length is that of the current UTC month:
  // with another time zone it is off only in the hours where the UTC month differs.
  local projected(expr) = '(' + expr + ') * scalar(days_in_month()) * 86400 / $__range_s';

  local allocationTable(title, dim, description) =
    local label = l[dim];
    panel.table(
      title,
      [
        t.prom(allocated(label), instant=true, format='table'),
        t.prom(share(allocated(label)), instant=true, format='table'),
      ],
      u.usd,
      description + ' The ' + config.unallocatedLabel + ' row is spend without the label (absent or empty).',
      w=12,
      columns={ [label]: { team: 'Team', costCenter: 'Cost center', tenant: 'Tenant', useCase: 'Use case' }[dim], 'Value #A': 'Spend', 'Value #B': 'Share' },
      columnUnits={ Share: u.ratio },
      sortBy='Spend',
    );

  // Routing counterfactuals: the alternative's cost of the usage it priced, against the actual
  // cost of the LLM usage of the same use case, provider and model. Routing is configured by
  // model or by use case (docs/pricing.md), so within one (use case, provider, model) every
  // priced LLM span has the alternative, except those it could not price (counted apart).
  local join = [l.useCase, l.provider, l.model];
  local alt = p.sumBy(join + [l.alternative], p.increaseRange('spanledger_cost_alternative_usd_total', config, dims));
  local actual = p.sumBy(join, p.increaseRange(cost, config, dims, l.category + '="llm"'));
  local on = 'on (' + std.join(', ', join) + ')';
  local actualPerAlt = '0 * ' + alt + ' + ' + on + ' group_left () ' + actual;
  local saving = actual + ' - ' + on + ' group_right () ' + alt;

  local uo = useCases.outcomes(config, outcomeDims);
  local ucCost = useCases.byUseCase(config, cost, dims);
  local ucValue = useCases.byUseCase(config, 'spanledger_outcome_value_usd_total', outcomeDims);

  lib.dashboard.new(
    config,
    'showback',
    'AI spend showback',
    "What AI costs and who it is for: this month per tenant with its projection and the unallocated share, then the selected range's spend by tenant, team, cost center, use case, model and category.",
    filters=dims,
  )
  + lib.dashboard.withPanels([
    panel.row('This month (' + config.timezone + ')'),
    monthToDate(panel.stat('Spend this month', [t.prom(total, instant=true)], u.usd, 'Spend since the start of the month in the time zone ' + config.timezone + ' (_config.timezone), every category.', w=6)),
    monthToDate(panel.stat('Projected month end', [t.prom(projected(total), instant=true)], u.usd, 'Month to date divided by the elapsed fraction of the month: the month at the pace of the month so far. Volatile in the first days.', w=6)),
    monthToDate(panel.stat('Unallocated this month (no tenant)', [t.prom(unallocatedShare(l.tenant), instant=true)], u.ratio, "Share of this month's spend without a tenant (" + l.tenant + ' absent or empty).', w=6)),
    monthToDate(panel.stat('Unallocated this month (no team)', [t.prom(unallocatedShare(l.team), instant=true)], u.ratio, "Share of this month's spend without a team (" + l.team + ' absent or empty).', w=6)),
    monthToDate(panel.table(
      'This month by tenant',
      [
        t.prom(allocated(l.tenant), instant=true, format='table'),
        t.prom(projected(allocated(l.tenant)), instant=true, format='table'),
        t.prom(share(allocated(l.tenant)), instant=true, format='table'),
      ],
      u.usd,
      'Month to date, projected month end (month to date / elapsed fraction of the month) and share of each tenant. The ' + config.unallocatedLabel + ' row is spend without a tenant.',
      h=9,
      columns={ [l.tenant]: 'Tenant', 'Value #A': 'Month to date', 'Value #B': 'Projected month end', 'Value #C': 'Share' },
      columnUnits={ Share: u.ratio },
      sortBy='Month to date',
    )),

    panel.row('Allocation over the selected range'),
    allocationTable('Spend by tenant', 'tenant', 'Spend over the selected range per tenant (' + l.tenant + ').'),
    allocationTable('Spend by team', 'team', 'Spend over the selected range per team (' + l.team + ').'),
    allocationTable('Spend by cost center', 'costCenter', 'Spend over the selected range per cost center (' + l.costCenter + ').'),
    allocationTable('Spend by use case', 'useCase', 'Spend over the selected range per use case (' + l.useCase + ').'),
    panel.table(
      'Spend by model',
      [
        t.prom(p.sumBy([l.provider, l.model], p.increaseRange(cost, config, dims)), instant=true, format='table'),
        t.prom(share(p.sumBy([l.provider, l.model], p.increaseRange(cost, config, dims))), instant=true, format='table'),
      ],
      u.usd,
      'Spend over the range per provider and model (the id the call asked for). Spend of other categories without a model (tools, human review) has an empty model.',
      w=12,
      columns={ [l.provider]: 'Provider', [l.model]: 'Model', 'Value #A': 'Spend', 'Value #B': 'Share' },
      columnUnits={ Share: u.ratio },
      sortBy='Spend',
    ),
    panel.bargauge('Spend by category', [t.prom(p.sumBy([l.category], p.increaseRange(cost, config, dims)), '{{' + l.category + '}}', instant=true)], u.usd, 'llm, tool, retrieval, evaluation, human_review, external: over the selected range.', w=6),
    panel.bargauge('Top ' + config.showbackTopModels + ' models', [t.prom('topk(' + config.showbackTopModels + ', ' + p.sumBy([l.model], p.increaseRange(cost, config, dims)) + ')', '{{' + l.model + '}}', instant=true)], u.usd, 'The models that cost the most over the selected range (_config.showbackTopModels).', w=6),

    panel.row('Daily spend'),
    panel.timeseries(
      'Daily spend by tenant',
      [t.prom(allocated(l.tenant, '$__interval'), '{{' + l.tenant + '}}')],
      u.usd,
      'Spend per day (the panel interval is 1d: each bar is increase over the day before its timestamp; Prometheus aligns the days to UTC midnight). Stacked by tenant.',
      w=24,
      stack=true,
    ) {
      interval: '1d',
      fieldConfig+: { defaults+: { custom+: { drawStyle: 'bars', fillOpacity: 80 } } },
    },

    panel.row('Outcomes and value per use case'),
    panel.table(
      'Cost per outcome and value per use case',
      [
        t.prom(ucCost, instant=true, format='table'),
        t.prom(uo, instant=true, format='table'),
        t.prom(ucCost + ' / (' + uo + ')', instant=true, format='table'),
        t.prom(ucValue, instant=true, format='table'),
        t.prom(ucValue + ' / ' + ucCost, instant=true, format='table'),
      ],
      u.usd,
      'Over the selected range, usage cost only (the Use-case scorecard adds the fixed costs). A use case with an outcome configured in _config.useCases counts that outcome; others count every outcome. Value / cost: USD of value per USD spent.',
      columns={ [l.useCase]: 'Use case', 'Value #A': 'Cost', 'Value #B': 'Outcomes', 'Value #C': 'Cost per outcome', 'Value #D': 'Value', 'Value #E': 'Value / cost' },
      columnUnits={ Outcomes: u.count, 'Value / cost': u.count },
      sortBy='Cost',
    ),

    panel.row('Routing alternatives'),
    panel.table(
      'What routing to the alternatives would have cost',
      [
        t.prom(actualPerAlt, instant=true, format='table'),
        t.prom(alt, instant=true, format='table'),
        t.prom(saving, instant=true, format='table'),
        t.prom('(' + saving + ') / (' + actualPerAlt + ')', instant=true, format='table'),
      ],
      u.usd,
      'Over the selected range, per use case, model called and alternative: the actual LLM cost, what the same usage costs on the alternative (spanledger_cost_alternative_usd_total), and the saving (negative: the alternative costs more). Usage an alternative could not price is left out of its figure (see the next panel).',
      w=18,
      columns={ [l.useCase]: 'Use case', [l.provider]: 'Provider', [l.model]: 'Model', [l.alternative]: 'Alternative', 'Value #A': 'Actual', 'Value #B': 'On the alternative', 'Value #C': 'Saving', 'Value #D': 'Saving share' },
      columnUnits={ 'Saving share': u.ratio },
      sortBy='Saving',
    ),
    panel.stat(
      'Spans an alternative could not price',
      [t.prom(p.sumBy([], p.increaseRange('spanledger_cost_alternative_unpriced_total', config, dims)) + ' or vector(0)', instant=true)],
      u.count,
      'Priced spans whose usage an alternative could not price (spanledger_cost_alternative_unpriced_total): their actual cost is in Actual but not in On the alternative, so the saving is overstated by that much.',
      w=6,
      decimals=0,
    ),
    panel.bargauge('Saving by alternative', [t.prom(p.sumBy([l.alternative], saving), '{{' + l.alternative + '}}', instant=true)], u.usd, 'The saving summed over use cases and models, per alternative.', w=24),
  ])
