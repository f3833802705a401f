// Placeholder: the Use-case scorecard dashboard is written on another branch, which replaces this file.
local lib = import '../lib/lib.libsonnet';

function(config)
  lib.dashboard.new(config, 'scorecard', 'Use-case scorecard')
  + lib.dashboard.withPanels([
    lib.panel.text('Use-case scorecard', 'This dashboard is being written.'),
  ])
