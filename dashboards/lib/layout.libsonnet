// gridPos layout. Panels carry their size (gridPos.w, gridPos.h, set by the panel constructors);
// `grid` flows them left to right on Grafana's 24-column grid, wrapping to a new line when a
// panel does not fit, and numbers them (id) in order. Rows (panel.row) always start a new line.
{
  grid(panels)::
    local step(state, p) =
      local w = p.gridPos.w;
      local h = p.gridPos.h;
      local isRow = p.type == 'row';
      local wrap = isRow || state.x + w > 24;
      local x = if wrap then 0 else state.x;
      local y = if wrap then state.y + state.lineH else state.y;
      {
        x: if isRow then 24 else x + w,
        y: y,
        lineH: if wrap then h else std.max(state.lineH, h),
        panels: state.panels + [p { id: std.length(state.panels) + 1, gridPos: { x: x, y: y, w: w, h: h } }],
      };
    std.foldl(step, panels, { x: 0, y: 0, lineH: 0, panels: [] }).panels,
}
