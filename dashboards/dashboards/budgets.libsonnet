// Budgets: every budget window's limit, spend, what remains and how fast it goes, when it runs
// out at that pace, paused scopes and events (docs/dashboards.md). The budget gauges are last
// known figures that every process reports for the windows it has seen (a shared ledger's
// windows from many processes): max by (budget, window) takes the freshest, never a sum.
local lib = import '../lib/lib.libsonnet';

function(config)
  local l = config.labels;
  local p = lib.promql;
  local t = lib.target;
  local panel = lib.panel;
  local u = lib.units;
  local filters = ['service', 'budget'];
  local win = [l.budget, l.window];
  local gauge(metric) = 'max by (' + std.join(', ', win) + ') (' + p.selector(metric, config, filters) + ')';
  local limit = gauge('spanledger_budget_limit_usd');
  local spent = gauge('spanledger_budget_spent_usd');
  local remaining = '(' + limit + ' - ' + spent + ')';
  // USD per second: the slope of the spent gauge (a window's reset is not spending: clamped at 0).
  local burn = 'clamp_min(max by (' + std.join(', ', win) + ') (deriv(' + p.selector('spanledger_budget_spent_usd', config, filters) + '[' + config.budgetBurnWindow + '])), 0)';
  local exhaustion = remaining + ' / (' + burn + ' > 0)';
  local paused = 'max by (' + l.budget + ') (' + p.selector('spanledger_budget_paused', config, filters) + ')';
  local events = 'spanledger_budget_events_total';
  local legend = '{{' + l.budget + '}} {{' + l.window + '}}';

  lib.dashboard.new(
    config,
    'budgets',
    'Budgets',
    'Every budget window: limit, spent, remaining, spend rate, time to exhaustion, paused scopes and events.',
    filters=filters,
    filterMetric='spanledger_budget_limit_usd',
  )
  + lib.dashboard.withPanels([
    panel.stat('Windows reported', [t.prom('count(' + limit + ')', instant=true)], u.count, 'Budget windows the services report (a per-value budget has one per value).', w=6, decimals=0),
    panel.stat('Windows over 80 %', [t.prom('count((' + spent + ' / ' + limit + ') > 0.8) or vector(0)', instant=true)], u.count, 'Windows that have spent more than 80 % of their limit.', w=6, decimals=0),
    panel.stat('Paused now', [t.prom('sum(' + paused + ') or vector(0)', instant=true)], u.count, 'Scopes paused by hand or by an action: pause budget (spanledger budgets list).', w=6, decimals=0),
    panel.stat('Exceeded events', [t.prom('sum(' + p.increaseRange(events, config, ['service', 'budget'], 'kind="exceeded"') + ') or vector(0)', instant=true)], u.count, 'Exceeded events over the selected range.', w=6, decimals=0),

    panel.table(
      'Budget windows',
      [
        t.prom(limit, instant=true, format='table'),
        t.prom(spent, instant=true, format='table'),
        t.prom(remaining, instant=true, format='table'),
        t.prom(spent + ' / ' + limit, instant=true, format='table'),
        t.prom(burn + ' * 3600', instant=true, format='table'),
        t.prom(exhaustion, instant=true, format='table'),
      ],
      u.usd,
      'One row per budget window, now. Spend rate: the slope of the spent figure over ' + config.budgetBurnWindow + ' (_config.budgetBurnWindow), USD per hour. Time to exhaustion: remaining / spend rate, empty while nothing is spent; a calendar window may reset first.',
      h=10,
      columns={ [l.budget]: 'Budget', [l.window]: 'Window', 'Value #A': 'Limit', 'Value #B': 'Spent', 'Value #C': 'Remaining', 'Value #D': 'Used', 'Value #E': 'Spend rate (USD/h)', 'Value #F': 'Time to exhaustion' },
      columnUnits={ Used: u.ratio, 'Time to exhaustion': u.seconds },
      sortBy='Used',
    ),

    panel.timeseries('Spent by budget window', [t.prom(spent, legend)], u.usd, 'Last known spend of each window; it drops back when a calendar window starts again.'),
    panel.timeseries('Used (spent / limit)', [t.prom(spent + ' / ' + limit, legend)], u.ratio, 'Share of each limit spent.'),
    panel.timeseries('Spend rate (USD/h)', [t.prom(burn + ' * 3600', legend)], u.usd, 'Slope of the spent figure over ' + config.budgetBurnWindow + '.'),
    panel.timeseries('Time to exhaustion', [t.prom(exhaustion, legend)], u.seconds, 'Remaining / spend rate: when the window runs out at the current pace.'),
    panel.timeseries('Paused scopes by budget', [t.prom(paused, '{{' + l.budget + '}}')], u.count, 'Scopes of each budget paused in the ledger (spanledger budgets pause / resume).'),
    panel.timeseries('Budget events (per hour)', [t.prom(p.sumBy([l.budget, 'kind', 'action'], p.rate(events, config, filters)) + ' * 3600', '{{' + l.budget + '}} {{kind}} ({{action}})')], u.count, 'Warnings and exceeded events by budget and action.'),
    panel.table(
      'Budget events over the range',
      [t.prom(p.sumBy([l.budget, 'kind', 'action'], p.increaseRange(events, config, filters)) + ' > 0', instant=true, format='table')],
      u.count,
      'Warnings and exceeded events over the selected range. The trace of each is on the Agent cost per trace dashboard (Tempo).',
      columns={ [l.budget]: 'Budget', kind: 'Kind', action: 'Action', Value: 'Events' },
      sortBy='Events',
    ),
  ])
