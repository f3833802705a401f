// Panel constructors. Each takes a title, its targets and a unit (units.libsonnet), and a size
// (w, h on the 24-column grid; layout.grid places it). Targets without a refId get A, B, C, ...
// in order. The data source of a panel is its first target's.
local units = import 'units.libsonnet';

local refIds = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
local withRefIds(targets) = [
  targets[i] + (if std.objectHas(targets[i], 'refId') then {} else { refId: refIds[i] })
  for i in std.range(0, std.length(targets) - 1)
];

local base(type, title, targets, unit, description, w, h) = {
  type: type,
  title: title,
  description: description,
  gridPos: { w: w, h: h },
  [if std.length(targets) > 0 then 'datasource']: targets[0].datasource,
  targets: withRefIds(targets),
  fieldConfig: {
    defaults: { unit: unit },
    overrides: [],
  },
  options: {},
};

{
  // One big number (instant queries: a figure over the range).
  stat(title, targets, unit, description='', w=6, h=4, decimals=null):: base('stat', title, targets, unit, description, w, h) {
    fieldConfig+: { defaults+: { [if decimals != null then 'decimals']: decimals } },
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: 'value',
      graphMode: 'none',
      textMode: 'auto',
    },
  },

  // Lines over time (range queries). `stack` stacks the series (parts of one total).
  timeseries(title, targets, unit, description='', w=12, h=8, stack=false):: base('timeseries', title, targets, unit, description, w, h) {
    fieldConfig+: {
      defaults+: {
        custom: {
          drawStyle: 'line',
          fillOpacity: if stack then 30 else 10,
          stacking: { mode: if stack then 'normal' else 'none', group: 'A' },
          showPoints: 'never',
        },
      },
    },
    options: {
      legend: { displayMode: 'table', placement: 'bottom', calcs: ['mean', 'max'] },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  },

  // A table. Prometheus instant queries in table format are merged into one row per label set
  // (several queries become columns); `columns` renames their value columns
  // ({ 'Value #A': 'Spent' }), `hide` drops columns (Time, ...) and `columnUnits` gives a
  // column (by its new name) a unit other than the table's ({ Used: 'percentunit' }).
  table(title, targets, unit, description='', w=24, h=8, columns={}, hide=['Time'], sortBy=null, columnUnits={}):: base('table', title, targets, unit, description, w, h) {
    fieldConfig+: {
      overrides: [
        { matcher: { id: 'byName', options: c }, properties: [{ id: 'unit', value: columnUnits[c] }] }
        for c in std.objectFields(columnUnits)
      ],
    },
    options: {
      showHeader: true,
      cellHeight: 'sm',
      [if sortBy != null then 'sortBy']: [{ displayName: sortBy, desc: true }],
    },
    transformations:
      (if std.length(targets) > 1 then [{ id: 'merge', options: {} }] else [])
      + [{
        id: 'organize',
        options: {
          excludeByName: { [c]: true for c in hide },
          renameByName: columns,
        },
      }],
  },

  // A table of Tempo search results (traces or spans): no unit of its own, `overrides` sets
  // units of selected attribute columns (byName).
  traceTable(title, targets, description='', w=24, h=8, usdColumns=[]):: base('table', title, targets, units.none, description, w, h) {
    fieldConfig+: {
      overrides: [
        { matcher: { id: 'byName', options: c }, properties: [{ id: 'unit', value: units.usd }] }
        for c in usdColumns
      ],
    },
    options: { showHeader: true, cellHeight: 'sm' },
  },

  // Horizontal bars, one per series (instant queries): a ranking.
  bargauge(title, targets, unit, description='', w=12, h=8):: base('bargauge', title, targets, unit, description, w, h) {
    options: {
      orientation: 'horizontal',
      displayMode: 'basic',
      showUnfilled: true,
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
    },
  },

  // A bar chart over a label (instant table-format queries): `xField` is the label on the axis.
  barchart(title, targets, unit, description='', w=12, h=8, xField=null, stack=false):: base('barchart', title, targets, unit, description, w, h) {
    options: {
      orientation: 'auto',
      [if xField != null then 'xField']: xField,
      stacking: if stack then 'normal' else 'none',
      showValue: 'auto',
      legend: { displayMode: 'list', placement: 'bottom' },
    },
    transformations: [{ id: 'merge', options: {} }],
  },

  // Markdown text (no query).
  text(title, content, w=24, h=4):: {
    type: 'text',
    title: title,
    gridPos: { w: w, h: h },
    options: { mode: 'markdown', content: content },
  },

  // A row header; layout.grid starts it on a new line at full width.
  row(title):: {
    type: 'row',
    title: title,
    collapsed: false,
    panels: [],
    gridPos: { w: 24, h: 1 },
  },
}
