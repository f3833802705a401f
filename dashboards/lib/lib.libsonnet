// The spanledger mixin's helper library: plain jsonnet, no external libraries (docs/dashboards.md).
//
//   local lib = import 'lib/lib.libsonnet';
//   lib.dashboard.new($._config, 'budgets', 'Budgets', filters=['service'])
//   + lib.dashboard.withPanels([
//     lib.panel.stat('Spend', [lib.target.prom(lib.promql.increaseRange('spanledger_cost_usd_total', sel))], lib.units.usd),
//   ])
//
// Parts: `dashboard` (skeleton, datasource and filter variables), `panel` (constructors with units),
// `layout` (gridPos), `target` (Prometheus and Tempo queries), `promql` (selectors, rates, money over
// the range), `units`.
{
  dashboard: import 'dashboard.libsonnet',
  panel: import 'panel.libsonnet',
  layout: import 'layout.libsonnet',
  target: import 'target.libsonnet',
  promql: import 'promql.libsonnet',
  units: import 'units.libsonnet',
}
