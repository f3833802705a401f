// PromQL of the use cases configured in _config.useCases, shared by the Showback and Use-case
// scorecard dashboards (docs/dashboards.md): their value hypotheses and fixed monthly costs as
// constant vectors labelled with the use case, and the outcomes each use case counts.
local lib = import '../lib/lib.libsonnet';
local rp = import '../rules/promql.libsonnet';

{
  // Days from 1970-01-01 to a proleptic Gregorian date (the civil-from-days algorithm run
  // backwards): a review date 'YYYY-MM-DD' becomes a Unix time without a date library.
  local daysFromCivil(y, m, d) =
    local y2 = if m <= 2 then y - 1 else y;
    local era = std.floor(y2 / 400);
    local yoe = y2 - era * 400;
    local mp = (m + 9) % 12;
    local doy = std.floor((153 * mp + 2) / 5) + d - 1;
    local doe = yoe * 365 + std.floor(yoe / 4) - std.floor(yoe / 100) + doy;
    era * 146097 + doe - 719468,

  // Unix time (s) of midnight UTC of 'YYYY-MM-DD'.
  unixDate(date)::
    local parts = std.split(date, '-');
    assert std.length(parts) == 3 : 'a review date is YYYY-MM-DD, got ' + date;
    86400 * daysFromCivil(std.parseInt(parts[0]), std.parseInt(parts[1]), std.parseInt(parts[2])),

  // A regular expression matching `s` literally (RE2 metacharacters escaped).
  regexEscape(s):: std.join('', [
    if std.member('\\.+*?()[]{}|^$', c) then '\\' + c else c
    for c in std.stringChars(s)
  ]),

  // The sum of a use case's fixed monthly costs (USD), or null when it has none.
  fixedMonthly(u)::
    local f = std.objectValues(std.get(u, 'fixedMonthlyUsd', {}));
    if f == [] then null else std.foldl(function(a, b) a + b, f, 0),

  // One constant per configured use case, labelled with it, as one PromQL vector: `f(u)` gives
  // the use case's value as a PromQL scalar expression, or null to leave the use case out.
  // The use-case filter variable applies: label_replace marks the use cases the variable's regex
  // matches (anchored, as a =~ matcher), and `and on` keeps only the marked ones. Empty when no
  // use case has a value, so that a dashboard can leave the query out.
  perUseCase(config, f)::
    local uc = config.labels.useCase;
    local terms = [
      'label_replace(vector(%s), %s, %s, "", "")' % [f(config.useCases[name]), std.escapeStringJson(uc), std.escapeStringJson(std.strReplace(name, '$', '$$'))]
      for name in std.objectFields(config.useCases)
      if f(config.useCases[name]) != null
    ];
    if terms == [] then ''
    else
      'sum by (%s) (label_replace(%s, "spanledger_keep", "1", %s, "$%s") and on (spanledger_keep) label_replace(vector(1), "spanledger_keep", "1", "", ""))'
      % [uc, std.join(' or ', terms), std.escapeStringJson(uc), lib.promql.variables.useCase],

  // Fixed costs of each use case pro-rated to the selected range: monthly USD x $__range_s /
  // _config.monthSeconds. Empty when no use case has fixed costs.
  fixedRange(config)::
    local v = $.perUseCase(config, function(u) local f = $.fixedMonthly(u); if f == null then null else rp.num(f));
    if v == '' then '' else '(' + v + ') * $__range_s / ' + rp.num(config.monthSeconds),

  // Fixed costs of each use case, USD per second (for rates and ratios over time).
  fixedPerSecond(config)::
    local v = $.perUseCase(config, function(u) local f = $.fixedMonthly(u); if f == null then null else rp.num(f));
    if v == '' then '' else '(' + v + ') / ' + rp.num(config.monthSeconds),

  // A counter's increase over the range by use case (series with a use case only).
  byUseCase(config, metric, filters, extra=[])::
    local uc = config.labels.useCase;
    lib.promql.sumBy([uc], lib.promql.increaseRange(metric, config, filters, [uc + '!=""'] + extra)),

  // Outcomes over the range by use case. A use case with `outcome` configured counts that outcome
  // name only (the outcome its value hypothesis is about); any other use case counts every
  // outcome it records.
  outcomes(config, filters)::
    local uc = config.labels.useCase;
    local on = config.labels.outcome;
    local named = [n for n in std.objectFields(config.useCases) if std.objectHas(config.useCases[n], 'outcome')];
    local rest = if named == [] then [] else [uc + '!~' + std.escapeStringJson(std.join('|', [$.regexEscape(n) for n in named]))];
    std.join(' or ', [$.byUseCase(config, 'spanledger_outcomes_total', filters, rest)] + [
      $.byUseCase(config, 'spanledger_outcomes_total', filters, [uc + '=' + std.escapeStringJson(n), on + '=' + std.escapeStringJson(config.useCases[n].outcome)])
      for n in named
    ]),

  // `a + b` over vectors with the same labels, where a label set missing from one side counts as
  // zero there (usage without fixed costs, fixed costs without usage). `b` may be empty.
  plus(a, b):: if b == '' then a else '((%s) + (%s)) or (%s) or (%s)' % [a, b, a, b],
}
