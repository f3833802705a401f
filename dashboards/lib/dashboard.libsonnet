// The dashboard skeleton: uid (_config.uidPrefix + slug), title (_config.dashboardTitlePrefix +
// title), tags, time, timezone, refresh, classic JSON (schemaVersion 39), and templating: the
// two data source variables, then one filter variable per dimension in `filters` (a query
// variable over label_values(...), multi-value with All, matched as label=~"$variable").
local layout = import 'layout.libsonnet';
local promql = import 'promql.libsonnet';
local target = import 'target.libsonnet';

local datasourceVariable(name, label, type) = {
  name: name,
  label: label,
  type: 'datasource',
  query: type,
  current: {},
  hide: 0,
  refresh: 1,
  regex: '',
  includeAll: false,
  multi: false,
  options: [],
};

{
  // The filter variable of dimension `dim` (a key of _config.labels), its values read from
  // `metric` (a series that carries that label).
  filterVariable(config, dim, metric):: {
    local label = config.labels[dim],
    local matchers = promql.matchers(config),
    name: promql.variables[dim],
    label: {
      service: 'Service',
      team: 'Team',
      costCenter: 'Cost center',
      tenant: 'Tenant',
      useCase: 'Use case',
      agent: 'Agent',
      model: 'Model',
      provider: 'Provider',
      budget: 'Budget',
    }[dim],
    type: 'query',
    datasource: target.prometheusDatasource,
    query: { query: 'label_values(' + metric + '{' + matchers + '}, ' + label + ')', refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    refresh: 2,
    sort: 1,
    multi: true,
    includeAll: true,
    // All matches every value and series without the label (spans without a team).
    allValue: '.*',
    current: { selected: true, text: ['All'], value: ['$__all'] },
    options: [],
    hide: 0,
    regex: '',
  },

  // A dashboard. `filters`: dimension names (keys of _config.labels) to offer as variables,
  // read from `filterMetric` (or per dimension from `filterMetrics[dim]`).
  new(config, slug, title, description='', filters=[], filterMetric='spanledger_cost_usd_total', filterMetrics={}):: {
    uid: config.uidPrefix + slug,
    title: config.dashboardTitlePrefix + title,
    description: description,
    tags: config.dashboardTags,
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    time: { from: config.defaultFrom, to: 'now' },
    timepicker: {},
    timezone: config.timezone,
    refresh: config.refresh,
    fiscalYearStartMonth: 0,
    liveNow: false,
    links: [{
      title: 'spanledger dashboards',
      type: 'dashboards',
      tags: config.dashboardTags,
      asDropdown: true,
      includeVars: true,
      keepTime: true,
    }],
    annotations: { list: [] },
    templating: {
      list: [
        datasourceVariable('prometheus_datasource', 'Prometheus', 'prometheus'),
        datasourceVariable('tempo_datasource', 'Tempo', 'tempo'),
      ] + [
        $.filterVariable(config, f, if std.objectHas(filterMetrics, f) then filterMetrics[f] else filterMetric)
        for f in filters
      ],
    },
    panels: [],
  },

  // The panels of a dashboard, laid out by layout.grid.
  withPanels(panels):: { panels: layout.grid(panels) },
}
