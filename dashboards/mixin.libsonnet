// The spanledger monitoring mixin: dashboards, alerts and recording rules over the spanledger
// metrics (docs/dashboards.md). Hidden fields: grafanaDashboards::, prometheusAlerts::,
// prometheusRules::; one _config+:: (config.libsonnet).
(import 'config.libsonnet')
+ (import 'dashboards/dashboards.libsonnet')
+ (import 'alerts/alerts.libsonnet')
+ (import 'rules/rules.libsonnet')
