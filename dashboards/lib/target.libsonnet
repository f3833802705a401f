// Query targets. Prometheus and Tempo targets name their data source through the dashboard's
// variables (prometheus_datasource, tempo_datasource), so one import works on any Grafana.
{
  // The data sources, as the variables of dashboard.libsonnet select them.
  prometheusDatasource:: { type: 'prometheus', uid: '${prometheus_datasource}' },
  tempoDatasource:: { type: 'tempo', uid: '${tempo_datasource}' },

  // A PromQL target. `instant` for stats, tables and bars (one value over the range); `format`:
  // 'time_series' or 'table'. The panel constructor sets refId when it is missing.
  prom(expr, legend='', instant=false, format=null):: {
    datasource: $.prometheusDatasource,
    expr: expr,
    legendFormat: legend,
    range: !instant,
    instant: instant,
    editorMode: 'code',
    [if format != null then 'format']: format,
  },

  // A Tempo TraceQL search target. `tableType` 'traces' lists traces (each links to its trace
  // view); 'spans' lists the matching spans with the attributes `select` asked for.
  traceql(query, limit=20, tableType='traces', spss=null):: {
    datasource: $.tempoDatasource,
    queryType: 'traceql',
    query: query,
    limit: limit,
    tableType: tableType,
    [if spss != null then 'spss']: spss,
  },
}
