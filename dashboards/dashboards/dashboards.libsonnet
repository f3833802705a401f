// The mixin's dashboards: file name -> dashboard JSON. Each file here is a function of _config
// returning one dashboard (built with ../lib).
{
  grafanaDashboards+:: {
    'spanledger-agent-cost.json': (import 'agent-cost.libsonnet')($._config),
    'spanledger-budgets.json': (import 'budgets.libsonnet')($._config),
    'spanledger-showback.json': (import 'showback.libsonnet')($._config),
    'spanledger-scorecard.json': (import 'scorecard.libsonnet')($._config),
  },
}
