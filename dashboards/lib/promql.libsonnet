// PromQL building blocks. Money over a time range is increase(...[$__range]) (what the selected
// range cost, never a counter's lifetime value); rates use $__rate_interval, which Grafana keeps
// at least four scrape intervals wide.
{
  // The dashboard variable that filters a dimension, by the dimension's name in _config.labels.
  variables:: {
    service: 'service',
    team: 'team',
    costCenter: 'cost_center',
    tenant: 'tenant',
    useCase: 'use_case',
    agent: 'agent',
    model: 'model',
    provider: 'provider',
    budget: 'budget',
  },

  // The matchers of a selector, without braces: _config.selector, a regex matcher per filter
  // (label=~"$variable") and `extra` (a matcher string or a list of them), comma separated.
  matchers(config, filters=[], extra=[])::
    local extras = if std.isString(extra) then [extra] else extra;
    std.join(',', std.filter(
      function(m) m != '',
      [config.selector]
      + [config.labels[f] + '=~"$' + $.variables[f] + '"' for f in filters]
      + extras,
    )),

  // A series selector: metric{matchers}.
  selector(metric, config, filters=[], extra=[]):: metric + '{' + $.matchers(config, filters, extra) + '}',

  // Per-second rate of a counter over $__rate_interval.
  rate(metric, config, filters=[], extra=[])::
    'rate(' + $.selector(metric, config, filters, extra) + '[$__rate_interval])',

  // What a counter (a series selector) grew by over `window`, a series born inside the window
  // counted in full. increase() alone reads a series from its first sample on, so it never counts
  // what a new series already holds there: the first export of a process that just started (each
  // restart is a new series, `instance` being the process), a new tenant's first calls, a budget's
  // first event. A series that did not exist one window ago grew by all it holds now.
  increaseOver(series, window)::
    '(' + series + ' unless ' + series + ' offset ' + window + ') or increase(' + series + '[' + window + '])',

  // What a counter grew by over the dashboard's time range ($__range): money over the range.
  increaseRange(metric, config, filters=[], extra=[])::
    $.increaseOver($.selector(metric, config, filters, extra), '$__range'),

  // sum by (labels) (expr); `by` is a list of label names (empty: one total).
  sumBy(by, expr)::
    if std.length(by) == 0 then 'sum(' + expr + ')'
    else 'sum by (' + std.join(', ', by) + ') (' + expr + ')',
}
